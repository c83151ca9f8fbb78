package db

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// preparedDB runs the queries of the hot paths as prepared statements: each
// distinct query text is prepared once for the pool (database/sql prepares
// it on a connection at its first use there), so a call is one round trip
// and Postgres reuses the plan instead of parsing and planning every time.
// It satisfies sqlx.QueryerContext and sqlx.ExecerContext, so store methods
// use it exactly like the pool.
type preparedDB struct {
	db    *sqlx.DB
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt
}

func newPreparedDB(d *sqlx.DB) *preparedDB {
	return &preparedDB{db: d, stmts: map[string]*sqlx.Stmt{}}
}

func (p *preparedDB) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	p.mu.Lock()
	st, ok := p.stmts[query]
	p.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := p.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.stmts[query]; ok {
		st.Close()
		return prev, nil
	}
	p.stmts[query] = st
	return st, nil
}

func (p *preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p *preparedDB) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryxContext(ctx, args...)
}

// QueryRowxContext falls back to an unprepared query when preparing fails,
// because a *sqlx.Row cannot carry that error; the query then reports it.
func (p *preparedDB) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.db.QueryRowxContext(ctx, query, args...)
	}
	return st.QueryRowxContext(ctx, args...)
}

func (p *preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}
