package stream

// NotifyStage is the notifier's name: its DLQ subjects, metrics and connection.
const NotifyStage = "notify"

// NotifyConsumer is the notifier's durable consumer on SIGNALS. It reads the public output
// like any subscriber, but durably: a signal is acknowledged once every destination it is
// routed to has it.
const NotifyConsumer = "notify"

// NotifyBucket is the key-value bucket in which the notifier remembers, per destination, the
// signals a destination confirmed (sent.<destination>.<signal id>), so a restarted notifier
// never sends again what it had delivered.
const NotifyBucket = "rarenet_notify"

// NotifyDLQSubject is the dead-letter subject of one destination of the notifier: signals it
// gave up on, with the original bytes and the reason.
func NotifyDLQSubject(destination string) string {
	return DLQPrefix + NotifyStage + "." + destination
}

// NotifyDLQWildcard matches the dead letters of every destination of the notifier and its own
// (NotifyRejectSubject).
const NotifyDLQWildcard = DLQPrefix + NotifyStage + ".>"

// NotifyRejectSubject is where the notifier puts messages on rarenet.signals that are not
// signal documents.
const NotifyRejectSubject = DLQPrefix + NotifyStage + "._rejected"
