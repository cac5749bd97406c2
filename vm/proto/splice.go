package proto

import (
	"io"
	"net"
	"sync"
)

// Splice copies a to b and b to a until both directions end, closing the
// sending half of each side when its input ends. Host and agent both carry
// their side streams (proxy, SSH agent, port forwards) with it.
func Splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			// A yamux stream's Close is a half close.
			_ = dst.Close()
		}
	}
	go half(a, b)
	go half(b, a)
	wg.Wait()
}
