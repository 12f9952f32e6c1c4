// Reference Go net/rpc/jsonrpc client for netrpc's interop tests.
//
// Standard library only; build with `go build -o OUT main.go` (no go.mod needed).
// Dials -addr with jsonrpc.Dial and runs a fixed script, printing one JSON line
// per step: {"step":"<name>","result":<json>} or {"step":"<name>","error":"<text>"}.
// Exits non-zero only if dialing fails.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
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

type Args struct {
	A, B int
}

type Quotient struct {
	Quo, Rem int
}

type line struct {
	Step   string           `json:"step"`
	Result *json.RawMessage `json:"result,omitempty"`
	Error  *string          `json:"error,omitempty"`
}

var stepTimeout time.Duration

func emit(l line) {
	b, err := json.Marshal(l)
	if err != nil {
		msg := "marshal: " + err.Error()
		b, _ = json.Marshal(line{Step: l.Step, Error: &msg})
	}
	os.Stdout.Write(append(b, '\n'))
}

func emitErr(step string, err error) {
	msg := err.Error()
	emit(line{Step: step, Error: &msg})
}

func emitResult(step string, v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		emitErr(step, fmt.Errorf("marshal result: %w", err))
		return
	}
	raw := json.RawMessage(b)
	emit(line{Step: step, Result: &raw})
}

// call is client.Call with a bound, so a silent peer cannot hang the script.
func call(client *rpc.Client, method string, args, reply interface{}) error {
	c := client.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
		return c.Error
	case <-time.After(stepTimeout):
		return fmt.Errorf("timeout after %v", stepTimeout)
	}
}

func step(client *rpc.Client, name, method string, args, reply interface{}) {
	if err := call(client, method, args, reply); err != nil {
		emitErr(name, err)
		return
	}
	emitResult(name, reply)
}

func concurrent(client *rpc.Client, n int) error {
	calls := make([]*rpc.Call, n)
	replies := make([]int, n)
	done := make(chan *rpc.Call, n)
	for i := 0; i < n; i++ {
		calls[i] = client.Go("Arith.Multiply", Args{i, i}, &replies[i], done)
	}
	deadline := time.After(stepTimeout)
	for got := 0; got < n; got++ {
		select {
		case <-done:
		case <-deadline:
			return fmt.Errorf("timeout after %v: %d of %d answered", stepTimeout, got, n)
		}
	}
	for i, c := range calls {
		if c.Error != nil {
			return fmt.Errorf("call %d: %w", i, c.Error)
		}
		if replies[i] != i*i {
			return fmt.Errorf("call %d: got %d, want %d", i, replies[i], i*i)
		}
	}
	return nil
}

func main() {
	addr := flag.String("addr", "", "host:port of the JSON-RPC server")
	flag.DurationVar(&stepTimeout, "step-timeout", 10*time.Second, "bound on each step")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "jsonrpc-client: -addr is required")
		os.Exit(2)
	}

	client, err := jsonrpc.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jsonrpc-client: dial: %v\n", err)
		os.Exit(1)
	}
	defer client.Close()

	step(client, "multiply", "Arith.Multiply", Args{7, 8}, new(int))
	step(client, "divide", "Arith.Divide", Args{7, 2}, new(Quotient))
	step(client, "divide_by_zero", "Arith.Divide", Args{1, 0}, new(Quotient))
	step(client, "get_user_1", "UserServer.GetUser", GetUserReq{Id: "1"}, new(GetUserResp))
	step(client, "get_user_2", "UserServer.GetUser", GetUserReq{Id: "2"}, new(GetUserResp))
	step(client, "get_user_missing", "UserServer.GetUser", GetUserReq{Id: "3"}, new(GetUserResp))
	step(client, "unknown_service", "Nope.Hello", Args{1, 2}, new(int))
	step(client, "unknown_method", "Arith.Nope", Args{1, 2}, new(int))
	step(client, "ill_formed", "NoDot", Args{1, 2}, new(int))
	step(client, "constructor", "Arith.constructor", Args{1, 2}, new(int))
	step(client, "proto", "Arith.__proto__", Args{1, 2}, new(int))
	step(client, "to_string", "Arith.toString", Args{1, 2}, new(int))

	const n = 200
	if err := concurrent(client, n); err != nil {
		emitErr("concurrent", err)
	} else {
		emitResult("concurrent", n)
	}
}
