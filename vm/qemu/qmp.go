package qemu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmp is a minimal client of QEMU's machine protocol: commands one at a
// time, events skipped.
type qmp struct {
	c net.Conn
	r *bufio.Reader
}

// dialQMP connects to the QMP socket at path and leaves capabilities
// negotiation mode.
func dialQMP(path string, deadline time.Time) (*qmp, error) {
	var c net.Conn
	var err error
	for {
		if c, err = net.Dial("unix", path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to QEMU's monitor: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = c.SetDeadline(deadline)
	q := &qmp{c: c, r: bufio.NewReader(c)}
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		c.Close()
		return nil, fmt.Errorf("QEMU's monitor: %w", err)
	}
	if _, err := q.do("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

// do runs one command and returns its "return" value.
func (q *qmp) do(cmd string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("QEMU's monitor: %s: %w", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("QEMU's monitor: %s: %w", cmd, err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, fmt.Errorf("QEMU's monitor: %s: %w", cmd, err)
		}
		switch {
		case resp.Event != "":
			continue
		case resp.Error != nil:
			return nil, fmt.Errorf("QEMU's monitor: %s: %s", cmd, resp.Error.Desc)
		default:
			return resp.Return, nil
		}
	}
}

// migrateStatus is the part of query-migrate a snapshot waits on.
type migrateStatus struct {
	Status    string `json:"status"`
	ErrorDesc string `json:"error-desc"`
}

// waitMigrated polls query-migrate until the migration completed or failed.
func (q *qmp) waitMigrated() error {
	for {
		raw, err := q.do("query-migrate", nil)
		if err != nil {
			return err
		}
		var st migrateStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("QEMU's monitor: query-migrate: %w", err)
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return errors.New("the VM's migration to a file " + st.Status + ": " + st.ErrorDesc)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (q *qmp) close() { q.c.Close() }
