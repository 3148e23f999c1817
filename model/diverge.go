package model

import (
	"fmt"
	"math"
)

// Diverged reports whether the epoch's training or validation loss is no
// longer a finite number: the loss summed on the device over the epoch is
// NaN or infinite as soon as one step's was, so the host learns it at the
// epoch's end without waiting on any step.
func (s EpochStats) Diverged() bool {
	return !finite(s.TrainLoss) || !finite(s.ValLoss)
}

// DivergedMessage is the one line that says in which epoch the loss of a
// run with c stopped being finite, and the likely cause.
func DivergedMessage(s EpochStats, c TrainConfig) string {
	v := s.TrainLoss
	which := "training loss"
	if finite(v) {
		v, which = s.ValLoss, "validation loss"
	}
	what := "NaN"
	if math.IsInf(v, 0) {
		what = "infinite"
	}
	def := DefaultLR(c.Optimizer)
	cause := fmt.Sprintf("the learning rate %g is probably too high (%s's default is %g)", c.LR, c.Optimizer, def)
	if c.LR <= def {
		cause = fmt.Sprintf("a numerical overflow; try a lower --lr than %g", c.LR)
	}
	return fmt.Sprintf("%s became %s in epoch %d: %s", which, what, s.Epoch, cause)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
