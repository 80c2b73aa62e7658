package stream

// WindowerBucket is the key-value bucket of the windower's own state, keyed by rule:
// lease.<rule> (which windower is active), lastrun.<rule> (the last completed rule run, for
// catching up after downtime), pending.<rule>.<record> (records waiting for their runs) and
// suppress.<rule>.<group> (per-host alert suppression). Windower replicas share it.
const WindowerBucket = "rarenet_windower"

// ExceptionsBucket is the key-value bucket of rule exceptions, keyed <rule>.<exception id>,
// managed with `rarenet exceptions` and read live by the windower.
const ExceptionsBucket = "rarenet_exceptions"
