package app

import "testing"

func TestRefuseInternalDestination(t *testing.T) {
	for addr, ok := range map[string]bool{
		"93.184.216.34:443":         true,
		"[2606:4700::1111]:443":     true,
		"10.1.2.3:443":              false,
		"172.16.0.1:443":            false,
		"192.168.1.1:80":            false,
		"127.0.0.1:8080":            false,
		"[::1]:443":                 false,
		"169.254.169.254:80":        false, // cloud metadata
		"[fe80::1]:443":             false,
		"100.64.0.1:443":            false,
		"0.0.0.0:443":               false,
		"[::ffff:10.0.0.1]:443":     false,
		"224.0.0.1:443":             false,
		"[fd00::1]:443":             false,
		"not-an-ip.example.com:443": false,
	} {
		if err := refuseInternalDestination("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("%s: error %v, want allowed=%v", addr, err, ok)
		}
	}
}
