package app_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"noxportal/app"
)

// countingOut records what reaches it and in how many writes.
type countingOut struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (o *countingOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	return o.b.Write(p)
}

func (o *countingOut) state() (string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String(), o.writes
}

func TestLogWriterWritesLinesTogetherInOrderWithinItsDelay(t *testing.T) {
	out := &countingOut{}
	w := app.NewLogWriter(out, 20*time.Millisecond)
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if got, n := out.state(); got != "" || n != 0 {
		t.Fatalf("before the delay: %d writes of %q, want the lines still waiting", n, got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, n := out.state()
		if got == want.String() {
			if n != 1 {
				t.Errorf("100 lines went out in %d writes, want 1", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the delay: got %q, want the 100 lines in order", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A line after the flush is written after its own delay too, after
	// the earlier ones.
	_, _ = w.Write([]byte("late\n"))
	time.Sleep(200 * time.Millisecond)
	if got, n := out.state(); got != want.String()+"late\n" || n != 2 {
		t.Errorf("a later line: %d writes, output ends %q; want 2 writes ending in \"late\"", n, got[max(0, len(got)-20):])
	}
}

func TestLogWriterFlushAndAFullBufferWriteAtOnce(t *testing.T) {
	out := &countingOut{}
	w := app.NewLogWriter(out, time.Hour)
	_, _ = w.Write([]byte("first\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.state(); got != "first\n" {
		t.Fatalf("after Flush: got %q, want the line", got)
	}
	// Past the buffer's bound a write goes out at once with what waits.
	_, _ = w.Write([]byte("second\n"))
	big := bytes.Repeat([]byte("x"), 300<<10)
	_, _ = w.Write(big)
	got, n := out.state()
	if n != 2 || got != "first\nsecond\n"+string(big) {
		t.Errorf("a write past the bound: %d writes, %d bytes; want 2 writes with every byte in order", n, len(got))
	}
}
