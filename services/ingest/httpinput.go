package ingest

import (
	"flag"
	"fmt"

	"github.com/rarenet/rarenet/services/sources/httpin"
	"github.com/rarenet/rarenet/shared/tokens"
)

// HTTPInput configures the HTTP input's access control (with Config.HTTPListen): who may
// post, over what, and how much.
type HTTPInput struct {
	// Tokens is the token file (NAME SHA256-OF-TOKEN [HOST-PATTERN...]); empty admits anyone
	// who can reach the address, which must then be loopback unless Insecure.
	Tokens string
	// TLSCert and TLSKey serve HTTPS; TLSClientCA also requires client certificates.
	TLSCert, TLSKey, TLSClientCA string
	// Insecure allows a non-loopback address without Tokens.
	Insecure bool
	// Rate and Burst are each token's requests a second; MaxConcurrent bounds the requests
	// served at once (0: httpin.DefaultMaxConcurrent).
	Rate          float64
	Burst         int
	MaxConcurrent int
}

// RegisterFlags registers the HTTP input's access flags on fs.
func (h *HTTPInput) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&h.Tokens, "http-tokens", "", "token `FILE` of the HTTP input: lines NAME SHA256-OF-TOKEN [HOST-PATTERN...] (rarenet token makes one); requests need Authorization: Bearer TOKEN, and only events of the token's hosts are taken; it binds the NATS sources of rarenet.raw.<format>.NAME to NAME's hosts too; reloaded on change and SIGHUP")
	fs.StringVar(&h.TLSCert, "http-tls-cert", "", "PEM certificate: serve the HTTP input over HTTPS (with --http-tls-key)")
	fs.StringVar(&h.TLSKey, "http-tls-key", "", "PEM private key of --http-tls-cert")
	fs.StringVar(&h.TLSClientCA, "http-tls-client-ca", "", "PEM CA certificates: the HTTP input requires client certificates they signed")
	fs.BoolVar(&h.Insecure, "http-insecure", false, "allow --http-listen on a non-loopback address without --http-tokens (only behind a proxy that authenticates the shippers)")
	fs.Float64Var(&h.Rate, "http-rate", 50, "requests a second each token of the HTTP input may make (429 with Retry-After beyond); 0: no limit")
	fs.IntVar(&h.Burst, "http-burst", 0, "requests a token may make at once above --http-rate (default: the rate, rounded up)")
	fs.IntVar(&h.MaxConcurrent, "http-max-concurrent", httpin.DefaultMaxConcurrent, "requests the HTTP input serves at once (503 with Retry-After beyond)")
}

// Validate checks the flags together with the address: a token file that does not parse,
// a certificate that does not load, or a non-loopback address without tokens stops the stage
// at start rather than at its first request.
func (h *HTTPInput) Validate(listen string) error {
	if listen == "" {
		return nil
	}
	if err := httpin.CheckListen(listen, h.Tokens != "", h.Insecure); err != nil {
		return err
	}
	if h.Tokens != "" {
		if _, err := tokens.Load(h.Tokens); err != nil {
			return fmt.Errorf("--http-tokens: %w", err)
		}
	}
	if _, err := httpin.ServerTLS(h.TLSCert, h.TLSKey, h.TLSClientCA); err != nil {
		return err
	}
	if h.Rate < 0 || h.Burst < 0 || h.MaxConcurrent < 0 {
		return fmt.Errorf("--http-rate, --http-burst and --http-max-concurrent must not be negative, got %g, %d, %d", h.Rate, h.Burst, h.MaxConcurrent)
	}
	return nil
}

// config returns the httpin configuration with the token file in force.
func (h *HTTPInput) config(stats *httpin.Stats, tf *tokens.File) httpin.Config {
	return httpin.Config{
		Tokens: tf, Rate: h.Rate, Burst: h.Burst, MaxConcurrent: h.MaxConcurrent, Stats: stats,
		TLSCert: h.TLSCert, TLSKey: h.TLSKey, TLSClientCA: h.TLSClientCA, Insecure: h.Insecure,
	}
}
