package stream

// HistoryBucket is the key-value bucket in which the enricher keeps the history of execution
// of every process.name (first seen, active buckets, hosts, users, destinations, ports) and of
// the fleet (hosts), built from the scorer's bucket summaries. Enricher replicas share it and
// create it (services/enricher/stores.go); the console reads it for its charts. Every entry is
// bounded by the enricher (services/enricher/history.go).
const HistoryBucket = "rarenet_history"
