package model

import (
	"math"
	"strings"
	"testing"
)

func TestDivergedMessage(t *testing.T) {
	cfg := DefaultTrainConfig()
	high := cfg
	high.LR = 1000
	cases := []struct {
		st   EpochStats
		cfg  TrainConfig
		div  bool
		want string
	}{
		{EpochStats{Epoch: 2, TrainLoss: 0.3, ValLoss: 0.2}, cfg, false, ""},
		{EpochStats{Epoch: 1, TrainLoss: math.NaN(), ValLoss: math.NaN()}, high, true,
			"training loss became NaN in epoch 1: the learning rate 1000 is probably too high"},
		{EpochStats{Epoch: 3, TrainLoss: 0.5, ValLoss: math.Inf(1)}, cfg, true, "validation loss became infinite in epoch 3: a numerical overflow; try a lower --lr than 0.02"},
	}
	for _, c := range cases {
		if c.st.Diverged() != c.div {
			t.Errorf("%+v: Diverged() = %v", c.st, !c.div)
		}
		if c.div {
			if got := DivergedMessage(c.st, c.cfg); !strings.Contains(got, c.want) {
				t.Errorf("DivergedMessage = %q, want %q", got, c.want)
			}
		}
	}
}
