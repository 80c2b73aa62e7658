// Package field holds what the JSON and XML decoders of the newer sensors (Sysmon, Tetragon,
// osquery, Falco) share: a JSON scalar that keeps its text whatever type the sender chose, a
// Reader that turns such values into typed event fields and keeps the first error, and the
// small normalizations every sensor needs (basename, canonical IP, argument splitting).
//
// It is internal because it is a convenience of these decoders, not a contract: the contract
// is format.Decoder and format.ErrMalformed.
package field
