package app

import (
	"io"
	"sync"
	"time"
)

// LogWriter gathers log lines and writes them to out together: the first
// line after a write starts a short wait (delay), and everything logged
// meanwhile goes out in one write. Under load that is one write call for
// many request lines instead of one per request; when idle a line still
// appears within delay. A line that would take the buffer past max is
// written at once with what is waiting, so memory stays bounded and a
// burst never waits. Flush writes what is waiting (call it before exiting
// and before writing to out directly, so lines keep their order).
//
// A process killed by a signal it cannot catch loses at most the lines of
// the last delay.
type LogWriter struct {
	out   io.Writer
	delay time.Duration
	max   int

	mu    sync.Mutex
	buf   []byte
	armed bool
}

// NewLogWriter returns a LogWriter to out that writes at least every delay.
func NewLogWriter(out io.Writer, delay time.Duration) *LogWriter {
	return &LogWriter{out: out, delay: delay, max: 256 << 10}
}

// Write keeps a copy of p for the next write to out. It never fails: an
// error of out is the error of the write that meets it (Flush's, or this
// one's when the buffer is full).
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf)+len(p) > w.max {
		err := w.writeLocked(p)
		return len(p), err
	}
	w.buf = append(w.buf, p...)
	if !w.armed {
		w.armed = true
		time.AfterFunc(w.delay, func() { _ = w.Flush() })
	}
	return len(p), nil
}

// Flush writes the waiting lines to out now.
func (w *LogWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	return w.writeLocked(nil)
}

// writeLocked writes the buffer and then p, and empties the buffer.
func (w *LogWriter) writeLocked(p []byte) error {
	w.buf = append(w.buf, p...)
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	if cap(w.buf) > w.max {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}
