// Package sources is the home of rarenet's raw-input sources: programs that observe a host
// (or read what another sensor wrote) and publish what they see on rarenet.raw.<format>,
// where ingest decodes it. Each source is a package of its own:
//
//   - sense: an eBPF sensor that sees every connect(2) and io_uring connect, however short;
//   - sink: the batching publisher the sources share.
//
// The log follower (tail), the /proc sensor (collect) and the HTTP input are to move here
// from services/ingest.
package sources
