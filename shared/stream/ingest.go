package stream

// IngestBucket is the key-value bucket in which ingest replicas share what the end of a replay
// must report for all of them: replay.<replay>.<replica> holds the latest event time and the
// counters of one replica over the raw messages of one replay (those carrying the replay's id
// in the header Rarenet-Replay). The replica that receives the end-of-input marker combines
// them. Ingest creates it.
const IngestBucket = "rarenet_ingest"
