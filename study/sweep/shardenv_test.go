package sweep

import (
	"strings"
	"testing"
)

func TestShardFromEnv(t *testing.T) {
	slurm := func(id, lo, hi, count, step string) map[string]string {
		m := map[string]string{"SLURM_ARRAY_TASK_ID": id, "SLURM_ARRAY_TASK_MIN": lo, "SLURM_ARRAY_TASK_MAX": hi,
			"SLURM_ARRAY_TASK_COUNT": count, "SLURM_JOB_ID": "4242"}
		if step != "" {
			m["SLURM_ARRAY_TASK_STEP"] = step
		}
		return m
	}
	k8s := func(idx, count string) map[string]string {
		m := map[string]string{"JOB_COMPLETION_INDEX": idx}
		if count != "" {
			m["MNISTGPU_SHARD_COUNT"] = count
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		i, n    int
		wantErr string
	}{
		{"slurm 1-4 first", slurm("1", "1", "4", "4", ""), 1, 4, ""},
		{"slurm 1-4 last", slurm("4", "1", "4", "4", "1"), 4, 4, ""},
		{"slurm 0-based", slurm("0", "0", "2", "3", ""), 1, 3, ""},
		{"slurm 0-based last", slurm("2", "0", "2", "3", ""), 3, 3, ""},
		{"slurm 1-9:4 middle", slurm("5", "1", "9", "3", "4"), 2, 3, ""},
		{"slurm 1-9:4 last", slurm("9", "1", "9", "3", "4"), 3, 3, ""},
		{"slurm one task", slurm("7", "7", "7", "1", ""), 1, 1, ""},
		{"slurm irregular list", slurm("7", "1", "7", "3", "1"), 0, 0, "irregular list"},
		{"slurm id off step", slurm("3", "1", "9", "3", "4"), 0, 0, "not one of the array's tasks"},
		{"slurm id outside", slurm("11", "1", "9", "3", "4"), 0, 0, "not one of the array's tasks"},
		{"slurm no count", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "1"}, 0, 0, "SLURM_ARRAY_TASK_COUNT is not set"},
		{"slurm bad number", slurm("x", "1", "4", "4", ""), 0, 0, `SLURM_ARRAY_TASK_ID="x" is not an integer`},
		{"k8s first", k8s("0", "3"), 1, 3, ""},
		{"k8s last", k8s("2", "3"), 3, 3, ""},
		{"k8s index too big", k8s("3", "3"), 0, 0, "want 0 ≤ index < MNISTGPU_SHARD_COUNT"},
		{"k8s negative", k8s("-1", "3"), 0, 0, "want 0 ≤ index"},
		{"k8s no count", k8s("0", ""), 0, 0, "MNISTGPU_SHARD_COUNT is not"},
		{"k8s zero count", k8s("0", "0"), 0, 0, "want 0 ≤ index"},
		{"both", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "JOB_COMPLETION_INDEX": "0"}, 0, 0, "both"},
		{"neither", map[string]string{"SLURM_JOB_ID": "4242"}, 0, 0, "no array-job index found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, n, from, err := ShardFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "--shard auto: ") {
					t.Fatalf("got %d/%d, %v; want an error with %q", i, n, err, tt.wantErr)
				}
				return
			}
			if err != nil || i != tt.i || n != tt.n || from == "" {
				t.Fatalf("got %d/%d (%q), %v; want %d/%d", i, n, from, err, tt.i, tt.n)
			}
		})
	}
}
