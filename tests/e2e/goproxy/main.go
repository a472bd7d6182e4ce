// A TCP proxy written the way Go proxies are (docker-proxy among them):
// io.Copy between two *net.TCPConn, which Go turns into splice(2) on
// Linux. Usage: goproxy PORTFILE BACKEND-ADDR. It writes its listening
// port to PORTFILE and serves until killed.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func pipe(dst, src *net.TCPConn, done chan<- struct{}) {
	io.Copy(dst, src) // splice(2) from src: the call under test
	dst.CloseWrite()
	done <- struct{}{}
}

func serve(c *net.TCPConn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		return
	}
	bc := b.(*net.TCPConn)
	defer bc.Close()
	done := make(chan struct{}, 2)
	go pipe(bc, c, done)
	go pipe(c, bc, done)
	<-done
	<-done
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goproxy PORTFILE BACKEND-ADDR")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	if err := os.WriteFile(os.Args[1]+".tmp", []byte(port), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
	os.Rename(os.Args[1]+".tmp", os.Args[1])
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "goproxy:", err)
			os.Exit(1)
		}
		go serve(c.(*net.TCPConn), os.Args[2])
	}
}
