// Package sources is the home of rarenet's raw-input sources: programs that observe a host
// (or read what another sensor wrote) and publish what they see on rarenet.raw.<format>,
// where ingest decodes it. None of them is part of a stage; each is a package of its own:
//
//   - tail: follows log files across rotation and truncation (`rarenet tail`);
//   - collect: a sensor without kernel modules that polls /proc (`rarenet collect`);
//   - sense: an eBPF sensor that sees every connect(2) and io_uring connect, however short
//     (`rarenet sense`);
//   - httpin: the HTTP input that shippers post to (`--http-listen`), which the ingest
//     binary serves: ingest imports it from here;
//   - rawpub: the raw messages all of them publish (subject, headers, compression);
//   - chunk: the one chunker that cuts input into raw messages of many lines, with the
//     caller's limits: the live sources' (1000 KiB, which fit a default max_payload) and
//     `rarenet replay`'s (up to 4 MiB of lines, packed to fill a message compressed);
//   - sink: a batching publisher with a bounded backlog of unacknowledged lines (sense).
package sources
