package app

import (
	"slices"
	"time"
)

// CustomerZones are the time zones a customer can choose for the times on
// their pages: every European zone and the main zones of the other
// continents, by region. A browser may report any other IANA zone; a
// choice must be one of these.
var CustomerZones = []string{
	"Europe/Amsterdam", "Europe/Andorra", "Europe/Athens", "Europe/Belgrade", "Europe/Berlin",
	"Europe/Brussels", "Europe/Bucharest", "Europe/Budapest", "Europe/Chisinau", "Europe/Copenhagen",
	"Europe/Dublin", "Europe/Gibraltar", "Europe/Helsinki", "Europe/Istanbul", "Europe/Kyiv",
	"Europe/Lisbon", "Europe/Ljubljana", "Europe/London", "Europe/Luxembourg", "Europe/Madrid",
	"Europe/Malta", "Europe/Monaco", "Europe/Oslo", "Europe/Paris", "Europe/Prague", "Europe/Riga",
	"Europe/Rome", "Europe/Sofia", "Europe/Stockholm", "Europe/Tallinn", "Europe/Vienna",
	"Europe/Vilnius", "Europe/Warsaw", "Europe/Zagreb", "Europe/Zurich",
	"Atlantic/Azores", "Atlantic/Canary", "Atlantic/Madeira", "Atlantic/Reykjavik",
	"Africa/Cairo", "Africa/Casablanca", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi",
	"America/Anchorage", "America/Argentina/Buenos_Aires", "America/Bogota", "America/Chicago",
	"America/Curacao", "America/Denver", "America/Halifax", "America/Los_Angeles", "America/Mexico_City",
	"America/New_York", "America/Paramaribo", "America/Phoenix", "America/Santiago", "America/Sao_Paulo",
	"America/Toronto", "America/Vancouver",
	"Asia/Bangkok", "Asia/Dubai", "Asia/Hong_Kong", "Asia/Jakarta", "Asia/Jerusalem", "Asia/Kolkata",
	"Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Tokyo",
	"Australia/Brisbane", "Australia/Perth", "Australia/Sydney", "Pacific/Auckland", "Pacific/Honolulu",
	"UTC",
}

// IsCustomerZone reports whether name is one of CustomerZones.
func IsCustomerZone(name string) bool { return slices.Contains(CustomerZones, name) }

// ZoneOffset is the zone's offset from UTC at t as "UTC+01:00".
func ZoneOffset(loc *time.Location, t time.Time) string {
	return "UTC" + t.In(loc).Format("-07:00")
}
