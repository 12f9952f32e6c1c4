// Reference Go net/rpc/jsonrpc server for netrpc's interop tests and benchmarks.
//
// Standard library only; build with `go build -o OUT main.go` (no go.mod needed).
// Prints exactly one line "LISTENING <host:port>" once it accepts connections,
// then serves until killed, or until stdin is closed (when -exit-on-stdin-close).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type GetUserReq struct {
	Id string `json:"id"`
}

type GetUserResp struct {
	Id    string
	Name  string
	Phone string
}

type UserServer struct{}

var users = map[string]GetUserResp{
	"1": {Id: "1", Name: "bala", Phone: "13100001111"},
	"2": {Id: "2", Name: "小王", Phone: "13200001111"},
}

func (*UserServer) GetUser(req GetUserReq, resp *GetUserResp) error {
	u, ok := users[req.Id]
	if !ok {
		return errors.New("user not found")
	}
	*resp = u
	return nil
}

type Args struct {
	A, B int
}

type Quotient struct {
	Quo, Rem int
}

type Arith struct{}

func (*Arith) Multiply(args Args, reply *int) error {
	*reply = args.A * args.B
	return nil
}

func (*Arith) Divide(args Args, quo *Quotient) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	quo.Quo = args.A / args.B
	quo.Rem = args.A % args.B
	return nil
}

const maxSleepMs = 10000

type Slow struct{}

func (*Slow) Sleep(ms int, reply *int) error {
	if ms < 0 {
		ms = 0
	}
	if ms > maxSleepMs {
		ms = maxSleepMs
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	*reply = ms
	return nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	exitOnStdin := flag.Bool("exit-on-stdin-close", false, "exit when stdin reaches EOF")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("jsonrpc-server: ")

	server := rpc.NewServer()
	for _, rcvr := range []interface{}{new(UserServer), new(Arith), new(Slow)} {
		if err := server.Register(rcvr); err != nil {
			log.Fatalf("register: %v", err)
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}

	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "LISTENING %s\n", ln.Addr().String())
	if err := out.Flush(); err != nil {
		log.Fatalf("stdout: %v", err)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		ln.Close()
		os.Exit(0)
	}()
	if *exitOnStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			ln.Close()
			os.Exit(0)
		}()
	}

	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go server.ServeCodec(jsonrpc.NewServerCodec(conn))
	}
}
