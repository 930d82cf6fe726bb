package buffer_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ponte-city/ponte/edge/buffer"
)

// The agent appends readings and learns when they are durable; the
// forwarder reads them in order and frees them when ingest acknowledges.
func Example() {
	dir, _ := os.MkdirTemp("", "ponte-buffer-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	b, err := buffer.Open(ctx, buffer.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := b.Append([][]byte{[]byte("flow=12"), []byte("flow=15")})
	if err := c.Wait(ctx); err != nil {
		fmt.Println("not durable:", err)
	}
	fmt.Println("durable:", c.First, c.Last)

	recs, _ := b.Read(0, 100, 64<<10) // oldest unacknowledged first
	for _, r := range recs {
		fmt.Printf("send seq %d: %s\n", r.Seq, r.Data)
	}
	_ = b.Ack(recs[len(recs)-1].Seq) // ingest acknowledged the batch
	_ = b.Close(ctx)
	// Output:
	// durable: 1 2
	// send seq 1: flow=12
	// send seq 2: flow=15
}
