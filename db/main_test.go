package db_test

import (
	"os"
	"testing"

	"noxportal/db/dbtest"
)

// TestMain drops the tests' databases in the background.
func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
