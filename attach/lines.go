package attach

import "bytes"

// Lines is a writer that hands each complete line written to it, without
// its newline, to Line; Flush hands on a last line that has none.
type Lines struct {
	Line func(string)
	buf  []byte
}

func (w *Lines) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.Line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// Flush hands on a last line without its newline.
func (w *Lines) Flush() {
	if len(w.buf) > 0 {
		w.Line(string(w.buf))
		w.buf = nil
	}
}
