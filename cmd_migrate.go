package main

import (
	"context"
)

// migrateCmd applies pending migrations and exits.
func migrateCmd(ctx context.Context, env cmdEnv, args []string) error {
	if err := noArgs("migrate", args); err != nil {
		return err
	}
	sqldb, err := openMigrated(ctx, env)
	if err != nil {
		return err
	}
	return sqldb.Close()
}
