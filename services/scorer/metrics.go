package scorer

// CheckpointObject names the model checkpoint in the stream.ModelStore object store, for
// operators and the checkpoint-age metric.
const CheckpointObject = checkpointObject

// Partitions returns the partitions this replica owns now, in order.
func (s *Service) Partitions() []int { return *s.owned.Load() }

// ModelActive reports whether this replica runs the model now.
func (s *Service) ModelActive() bool { return s.modelActive.Load() }
