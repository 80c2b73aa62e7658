package osquery

import "github.com/rarenet/rarenet/services/ingest/format/internal/field"

// result is one line of the results log, in any of its three shapes. osquery writes every
// column as a string unless --logger_numerics is set, hence field.Value.
type result struct {
	Name           string      `json:"name"`
	HostIdentifier string      `json:"hostIdentifier"`
	CalendarTime   string      `json:"calendarTime"`
	UnixTime       field.Value `json:"unixTime"`
	Action         string      `json:"action"`
	Columns        row         `json:"columns"`
	Snapshot       []row       `json:"snapshot"`
	DiffResults    *diff       `json:"diffResults"`
	Decorations    row         `json:"decorations"`
}

// diff is the batch format's rows.
type diff struct {
	Added   []row `json:"added"`
	Removed []row `json:"removed"`
}

// row is one row of a query, column name to value.
type row map[string]field.Value

// has reports whether the row has the column, even as null.
func (r row) has(col string) bool {
	_, ok := r[col]
	return ok
}
