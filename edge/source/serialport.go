package source

import (
	"fmt"
	"time"

	tarm "github.com/tarm/serial"
)

// OpenSerial opens line's port through github.com/tarm/serial, the one
// serial library of the edge (Modbus RTU and serial line devices alike),
// with the given read timeout. tarm/serial sets the timeout as the
// termios VTIME in deciseconds: anything below 100ms becomes 100ms. A read
// returns as soon as a byte has arrived, and (0, io.EOF) after that much
// silence, which callers must take as "quiet", not as the end of the line.
func OpenSerial(line SerialLine, readTimeout time.Duration) (*tarm.Port, error) {
	parity := tarm.ParityNone
	if line.Parity != "" {
		parity = tarm.Parity(line.Parity[0])
	}
	p, err := tarm.OpenPort(&tarm.Config{
		Name:        line.Path,
		Baud:        line.Baud,
		Size:        byte(line.DataBits),
		Parity:      parity,
		StopBits:    tarm.StopBits(line.StopBits),
		ReadTimeout: readTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", line, err)
	}
	return p, nil
}
