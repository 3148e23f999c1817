package sweep

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ShardFromEnv returns the shard i of n (1 ≤ i ≤ n) that a scheduler gave
// this process, for `sweep --shard auto`, and a note naming where it came
// from. getenv is os.Getenv, or a map's lookup in tests.
//
// Slurm array jobs set SLURM_ARRAY_TASK_ID, _MIN, _MAX, _COUNT and, for a
// range with a step (--array=1-9:4), _STEP: the shard is
// (ID − MIN) / STEP + 1 of COUNT. An array given as an irregular list
// (--array=1,2,7), whose tasks are not MIN, MIN+STEP, ..., MAX, is
// refused: its IDs do not map onto 1..COUNT in order.
//
// Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX (0-based); the job's
// completion count is not in the pod's environment, so the manifest sets
// it in MNISTGPU_SHARD_COUNT. The shard is INDEX + 1 of that count.
func ShardFromEnv(getenv func(string) string) (i, n int, from string, err error) {
	slurm, k8s := getenv("SLURM_ARRAY_TASK_ID") != "", getenv("JOB_COMPLETION_INDEX") != ""
	switch {
	case slurm && k8s:
		return 0, 0, "", errors.New("--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set: give --shard i/n")
	case slurm:
		return slurmShard(getenv)
	case k8s:
		return k8sShard(getenv)
	}
	return 0, 0, "", errors.New("--shard auto: no array-job index found (SLURM_ARRAY_TASK_ID from Slurm, " +
		"or JOB_COMPLETION_INDEX with MNISTGPU_SHARD_COUNT from a Kubernetes Indexed Job): give --shard i/n")
}

// envInts reads the named variables as integers; def, when not nil, gives
// the value of an unset variable.
func envInts(getenv func(string) string, def map[string]int, names ...string) ([]int, error) {
	var vals []int
	for _, name := range names {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			if v, ok := def[name]; ok {
				vals = append(vals, v)
				continue
			}
			return nil, fmt.Errorf("--shard auto: %s is not set", name)
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("--shard auto: %s=%q is not an integer", name, s)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func slurmShard(getenv func(string) string) (int, int, string, error) {
	v, err := envInts(getenv, map[string]int{"SLURM_ARRAY_TASK_STEP": 1},
		"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP")
	if err != nil {
		return 0, 0, "", err
	}
	id, lo, hi, count, step := v[0], v[1], v[2], v[3], v[4]
	from := fmt.Sprintf("Slurm array task %d of %d-%d:%d", id, lo, hi, step)
	if count < 1 || step < 1 || lo > hi {
		return 0, 0, "", fmt.Errorf("--shard auto: %s with %d tasks makes no sense", from, count)
	}
	if lo+(count-1)*step != hi {
		return 0, 0, "", fmt.Errorf("--shard auto: the Slurm array is an irregular list (%d tasks from %d to %d, step %d): "+
			"submit it as a range, --array=%d-%d, or give --shard i/n", count, lo, hi, step, 1, count)
	}
	if id < lo || id > hi || (id-lo)%step != 0 {
		return 0, 0, "", fmt.Errorf("--shard auto: %s is not one of the array's tasks", from)
	}
	return (id-lo)/step + 1, count, from, nil
}

func k8sShard(getenv func(string) string) (int, int, string, error) {
	if strings.TrimSpace(getenv("MNISTGPU_SHARD_COUNT")) == "" {
		return 0, 0, "", errors.New("--shard auto: JOB_COMPLETION_INDEX is set but MNISTGPU_SHARD_COUNT is not: " +
			"set it in the Job's pod template to the Job's completions")
	}
	v, err := envInts(getenv, nil, "JOB_COMPLETION_INDEX", "MNISTGPU_SHARD_COUNT")
	if err != nil {
		return 0, 0, "", err
	}
	idx, count := v[0], v[1]
	from := fmt.Sprintf("Kubernetes completion index %d of %d", idx, count)
	if count < 1 || idx < 0 || idx >= count {
		return 0, 0, "", fmt.Errorf("--shard auto: %s: want 0 ≤ index < MNISTGPU_SHARD_COUNT", from)
	}
	return idx + 1, count, from, nil
}
