package reference

import (
	"strconv"
	"strings"
)

// execveArgs rebuilds argv from EXECVE fields: argc, then a0..aN, where an argument too long
// for one record is written as aN_len=... aN[0]=... aN[1]=... It returns nil without fields.
func execveArgs(fs []field) []string {
	if len(fs) == 0 {
		return nil
	}
	vals := make(map[string]string, len(fs))
	for _, f := range fs {
		if _, dup := vals[f.key]; !dup {
			vals[f.key] = f.val
		}
	}
	argc, err := strconv.Atoi(vals["argc"])
	if err != nil || argc < 0 {
		argc = -1 // read arguments until one is missing
	}
	var args []string
	for i := 0; argc < 0 || i < argc; i++ {
		name := "a" + strconv.Itoa(i)
		if v, ok := vals[name]; ok {
			args = append(args, decodeString(v))
			continue
		}
		if _, ok := vals[name+"_len"]; !ok {
			break // a record of the event was lost; keep what there is
		}
		var b strings.Builder
		for k := 0; ; k++ {
			v, ok := vals[name+"["+strconv.Itoa(k)+"]"]
			if !ok {
				break
			}
			b.WriteString(decodeString(v))
		}
		args = append(args, b.String())
	}
	return args
}
