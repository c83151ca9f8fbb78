package handlers_test

import (
	"os"
	"testing"

	"noxportal/handlers/handlertest"
)

// TestMain drops the tests' databases in the background and stops the
// Chromium the browser tests share once they have run.
func TestMain(m *testing.M) { os.Exit(handlertest.Main(m)) }
