package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/ponte-city/ponte/wire"
)

// Controller is the run-time control API of a simulator, so tests and
// demos inject faults and pin values while it runs:
//
//	POST /fault?unit=N&kind=timeout      a Modbus unit (kind none heals)
//	POST /fault?device=ID&kind=garbage   an MQTT device, or device=serial
//	POST /value?unit=N&point=P&value=V   pin a Modbus point (V: true/false, integer, number or text)
//	GET  /status                         JSON: units with requests and faults, devices with faults
type Controller struct {
	Units []*ModbusUnit
	Line  *LineDevice
	MQTT  []*MQTTDevice
}

// Status is the JSON body of GET /status.
type Status struct {
	Units   []UnitStatus   `json:"units"`
	Devices []DeviceStatus `json:"devices"`
}

// UnitStatus is one Modbus unit in Status.
type UnitStatus struct {
	Unit     uint8  `json:"unit"`
	Requests int64  `json:"requests"`
	Fault    string `json:"fault"`
	// Writes counts the write requests per point (issue 16).
	Writes map[string]int64 `json:"writes"`
}

// DeviceStatus is one serial or MQTT device in Status.
type DeviceStatus struct {
	ID    string `json:"id"`
	Fault string `json:"fault"`
}

// Handler returns the HTTP handler of the API.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fault", c.fault)
	mux.HandleFunc("POST /value", c.value)
	mux.HandleFunc("GET /status", c.status)
	return mux
}

// unitByKey returns the unit whose ID is s, or nil.
func (c *Controller) unitByKey(s string) *ModbusUnit {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	for _, u := range c.Units {
		if int(u.ID()) == n {
			return u
		}
	}
	return nil
}

func (c *Controller) unit(w http.ResponseWriter, s string) *ModbusUnit {
	if u := c.unitByKey(s); u != nil {
		return u
	}
	http.Error(w, fmt.Sprintf("unit %q: not served (expected one of the --units)", s), http.StatusNotFound)
	return nil
}

func (c *Controller) fault(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := ParseFault(q.Get("kind"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case q.Has("unit"):
		u := c.unit(w, q.Get("unit"))
		if u == nil {
			return
		}
		u.SetFault(f)
	case q.Get("device") == "serial" && c.Line != nil:
		c.Line.SetFault(f)
	case q.Has("device"):
		d := c.mqttDevice(q.Get("device"))
		if d == nil {
			http.Error(w, fmt.Sprintf("device %q: not simulated", q.Get("device")), http.StatusNotFound)
			return
		}
		d.SetFault(f)
	default:
		http.Error(w, "expected unit=N or device=ID", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Controller) mqttDevice(id string) *MQTTDevice {
	for _, d := range c.MQTT {
		if d.ID() == id {
			return d
		}
	}
	return nil
}

func (c *Controller) value(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u := c.unit(w, q.Get("unit"))
	if u == nil {
		return
	}
	if err := u.SetValue(q.Get("point"), parseValue(q.Get("value"))); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseValue reads a value given as text: a bool, an integer, a number,
// else a string.
func parseValue(s string) wire.Value {
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return wire.Bool(b)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return wire.Int(i)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return wire.Float(f)
	}
	return wire.String(s)
}

// Status returns the simulator's state.
func (c *Controller) Status() Status {
	st := Status{Units: []UnitStatus{}, Devices: []DeviceStatus{}}
	for _, u := range c.Units {
		st.Units = append(st.Units, UnitStatus{Unit: u.ID(), Requests: u.Requests(), Fault: string(u.Fault()), Writes: u.Writes()})
	}
	sort.Slice(st.Units, func(i, j int) bool { return st.Units[i].Unit < st.Units[j].Unit })
	if c.Line != nil {
		f, _ := c.Line.state()
		st.Devices = append(st.Devices, DeviceStatus{ID: "serial", Fault: string(f)})
	}
	for _, d := range c.MQTT {
		d.mu.Lock()
		st.Devices = append(st.Devices, DeviceStatus{ID: d.id, Fault: string(d.fault)})
		d.mu.Unlock()
	}
	return st
}

func (c *Controller) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(c.Status())
}
