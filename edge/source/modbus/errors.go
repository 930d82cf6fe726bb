package modbus

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/goburrow/modbus"
	"github.com/ponte-city/ponte/wire"
)

// Error kinds, the "kind" label of source.Metrics.Errors.
const (
	KindTimeout   = "timeout"   // no (complete) reply within the device's Timeout
	KindComm      = "comm"      // connection refused or dropped, bad frame, CRC error
	KindException = "exception" // the device answered a Modbus exception
	KindDecode    = "decode"    // a reply arrived but does not hold what the profile says
)

// ReadError is a failed read of one Request from one device. Callers
// branch on Kind, or unwrap to *ExceptionError.
type ReadError struct {
	Device  string
	Address string // the device's address URL
	Unit    uint8
	Request string // e.g. "holding 100+4"
	Kind    string // one of the Kind constants
	Err     error
}

// Error reads "read holding 100+4 unit 3 on tcp://127.0.0.1:5020: CAUSE".
func (e *ReadError) Error() string {
	return fmt.Sprintf("read %s unit %d on %s: %v", e.Request, e.Unit, e.Address, e.Err)
}

// Unwrap returns the cause.
func (e *ReadError) Unwrap() error { return e.Err }

// Quality maps the error's kind onto a reading quality.
func (e *ReadError) Quality() wire.Quality { return kindQuality(e.Kind) }

// ExceptionError is a Modbus exception reply.
type ExceptionError struct {
	Function byte // the request's function code
	Code     byte // the exception code
}

// Error reads "modbus exception 2 (illegal data address)".
func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus exception %d (%s)", e.Code, exceptionName(e.Code))
}

func exceptionName(code byte) string {
	switch code {
	case modbus.ExceptionCodeIllegalFunction:
		return "illegal function"
	case modbus.ExceptionCodeIllegalDataAddress:
		return "illegal data address"
	case modbus.ExceptionCodeIllegalDataValue:
		return "illegal data value"
	case modbus.ExceptionCodeServerDeviceFailure:
		return "server device failure"
	case modbus.ExceptionCodeAcknowledge:
		return "acknowledge"
	case modbus.ExceptionCodeServerDeviceBusy:
		return "server device busy"
	case modbus.ExceptionCodeMemoryParityError:
		return "memory parity error"
	case modbus.ExceptionCodeGatewayPathUnavailable:
		return "gateway path unavailable"
	case modbus.ExceptionCodeGatewayTargetDeviceFailedToRespond:
		return "gateway target device failed to respond"
	}
	return "unknown exception"
}

// classify turns what goburrow, net and the serial port return into a
// kind and a cause worth showing to a technician. goburrow reports an
// exception, and also a reply with an unexpected function code, as
// *modbus.ModbusError; only the former has the exception bit set.
func classify(err error) (kind string, cause error) {
	var me *modbus.ModbusError
	if errors.As(err, &me) {
		if me.FunctionCode&0x80 != 0 {
			return KindException, &ExceptionError{Function: me.FunctionCode &^ 0x80, Code: me.ExceptionCode}
		}
		return KindComm, fmt.Errorf("reply with function code %d to a request with another: %w", me.FunctionCode, err)
	}
	if isTimeout(err) {
		return KindTimeout, err
	}
	return KindComm, err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func kindQuality(kind string) wire.Quality {
	switch kind {
	case KindException:
		return wire.QualityBadDevice
	case KindDecode:
		return wire.QualityBadDecode
	}
	return wire.QualityBadComm
}
