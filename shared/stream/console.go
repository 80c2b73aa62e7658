package stream

// ConsoleBucket is the key-value bucket of the console (services/console): the triage state
// of each signal, key "status.<kibana.alert.uuid>", a JSON document with the workflow status
// (open, acknowledged, closed), the note, who changed it and when. Its revisions are the
// signal's triage history. `rarenet signals --json` reads it for kibana.alert.workflow_status.
const ConsoleBucket = "rarenet_console"

// TriageSubject is where the console publishes every change of a signal's triage state, as the
// JSON document it stores, for notifiers and other subscribers. It is not captured by a stream:
// the bucket is the record.
const TriageSubject = "rarenet.triage"
