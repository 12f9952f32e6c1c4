// grpc-go's official interop TestService (interop.NewTestServer, as interop/server serves it),
// with the harness's conventions: -listen host:port (port 0 allowed), a "LISTENING host:port"
// line once it accepts connections, and exit when stdin closes. The official main can do
// neither: it binds ":<port>" on every interface and prints nothing.
//
// Built in GOPATH mode against Debian's grpc-go (/usr/share/gocode) plus interop/ from the
// same version's source package; see test/helpers/grpc-go.ts.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	exitOnStdinClose := flag.Bool("exit-on-stdin-close", false, "exit when stdin reaches EOF")
	flag.Parse()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	server := grpc.NewServer()
	testpb.RegisterTestServiceServer(server, interop.NewTestServer())
	if *exitOnStdinClose {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
	}
	fmt.Printf("LISTENING %s\n", lis.Addr())
	if err := server.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
