package scorer

// CheckpointObject names the model checkpoint in the stream.ModelStore object store, for
// operators and the checkpoint-age metric.
const CheckpointObject = checkpointObject
