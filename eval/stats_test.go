package eval

import (
	"math"
	"testing"
)

// within fails on NaN: !(|got-want| <= tol).
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestTQuantileTable(t *testing.T) {
	// Printed t tables (three decimals).
	tests := []struct {
		p, df, want float64
	}{
		{0.975, 1, 12.706},
		{0.975, 2, 4.303},
		{0.975, 4, 2.776},
		{0.975, 9, 2.262},
		{0.975, 30, 2.042},
		{0.95, 5, 2.015},
		{0.995, 10, 3.169},
		{0.025, 4, -2.776},
	}
	for _, tt := range tests {
		if got := TQuantile(tt.p, tt.df); !within(got, tt.want, 0.0005) {
			t.Errorf("TQuantile(%g, %g) = %.4f, want %.3f", tt.p, tt.df, got, tt.want)
		}
	}
	for _, bad := range [][2]float64{{0.975, 0}, {0, 3}, {1, 3}, {math.NaN(), 3}, {0.5, math.NaN()}} {
		if got := TQuantile(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("TQuantile(%g, %g) = %g, want NaN", bad[0], bad[1], got)
		}
	}
}

func TestMeanCIKnownSample(t *testing.T) {
	// 1..5: mean 3, s = √2.5, half = t(0.975, 4) · s/√5 = 2.776445 · 0.707107.
	m, h := MeanCI([]float64{1, 2, 3, 4, 5})
	if !within(m, 3, 1e-12) || !within(h, 2.776445*math.Sqrt(2.5/5), 1e-5) {
		t.Errorf("MeanCI(1..5) = %g ± %g, want 3 ± 1.96324", m, h)
	}
	// Two values 0.9 and 0.92: half = 12.7062 · 0.01.
	m, h = MeanCI([]float64{0.9, 0.92})
	if !within(m, 0.91, 1e-12) || !within(h, 0.127062, 1e-5) {
		t.Errorf("MeanCI(0.9, 0.92) = %g ± %g, want 0.91 ± 0.127062", m, h)
	}
	if m, h := MeanCI([]float64{0.5}); !within(m, 0.5, 0) || !math.IsNaN(h) {
		t.Errorf("MeanCI of one value = %g ± %g, want 0.5 ± NaN", m, h)
	}
	if m, _ := MeanCI(nil); !math.IsNaN(m) {
		t.Errorf("MeanCI(nil) mean = %g, want NaN", m)
	}
}

// tPValue integrates Student's t density numerically (Simpson's rule on
// [|t|, |t|+200]): an independent reference for the p-values.
func tPValue(tstat, df float64) float64 {
	lg1, _ := math.Lgamma((df + 1) / 2)
	lg2, _ := math.Lgamma(df / 2)
	c := math.Exp(lg1-lg2) / math.Sqrt(df*math.Pi)
	f := func(x float64) float64 { return c * math.Pow(1+x*x/df, -(df+1)/2) }
	a, b, n := math.Abs(tstat), math.Abs(tstat)+200, 200000
	h := (b - a) / float64(n)
	s := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(a+float64(i)*h)
	}
	return 2 * s * h / 3
}

func TestPairedT(t *testing.T) {
	// Differences 0.01, 0.02, 0.01: mean 0.013333, s = 0.0057735,
	// t = 0.013333 / (0.0057735/√3) = 4, df 2; for df 2 the tail has the
	// closed form P(T > t) = (1 − t/√(t²+2))/2, so p = 1 − 4/√18.
	a := []float64{0.91, 0.92, 0.93, math.NaN()}
	b := []float64{0.90, 0.90, 0.92, 0.95}
	r := PairedT(a, b)
	if r.N != 3 || r.Dropped != 1 {
		t.Fatalf("PairedT: n %d dropped %d, want 3 and 1", r.N, r.Dropped)
	}
	if !within(r.Diff, 0.04/3, 1e-12) || !within(r.T, 4, 1e-9) || !within(r.DF, 2, 0) {
		t.Errorf("PairedT: diff %g t %g df %g, want 0.013333, 4, 2", r.Diff, r.T, r.DF)
	}
	if want := 1 - 4/math.Sqrt(18); !within(r.P, want, 1e-9) {
		t.Errorf("PairedT p = %g, want %g", r.P, want)
	}
	if !within(r.CI95, 4.302653*0.0057735/math.Sqrt(3), 1e-5) {
		t.Errorf("PairedT CI95 = %g", r.CI95)
	}
	// Larger sample against the numerical reference.
	a = []float64{0.971, 0.968, 0.975, 0.970, 0.969, 0.973}
	b = []float64{0.965, 0.967, 0.969, 0.971, 0.962, 0.966}
	r = PairedT(a, b)
	if ref := tPValue(r.T, r.DF); !within(r.P, ref, 1e-6) {
		t.Errorf("PairedT p = %g, numerical integration %g (t %g df %g)", r.P, ref, r.T, r.DF)
	}

	tests := []struct {
		name    string
		a, b    []float64
		n, drop int
		p       float64 // NaN: want NaN
	}{
		{"identical", []float64{0.9, 0.8}, []float64{0.9, 0.8}, 2, 0, 1},
		{"constant shift", []float64{0.91, 0.81}, []float64{0.9, 0.8}, 2, 0, 0},
		{"one pair", []float64{0.9}, []float64{0.8}, 1, 0, math.NaN()},
		{"all dropped", []float64{math.NaN(), 0.9}, []float64{0.8, math.NaN()}, 0, 2, math.NaN()},
	}
	for _, tt := range tests {
		r := PairedT(tt.a, tt.b)
		okP := within(r.P, tt.p, 1e-9) || math.IsNaN(tt.p) && math.IsNaN(r.P)
		if r.N != tt.n || r.Dropped != tt.drop || !okP {
			t.Errorf("%s: n %d dropped %d p %g, want %d %d %g", tt.name, r.N, r.Dropped, r.P, tt.n, tt.drop, tt.p)
		}
	}
	// A shift of 0.01 over pairs whose differences are exactly equal in
	// floating point must not report NaN.
	if r := PairedT([]float64{1.5, 2.5}, []float64{1, 2}); !within(r.P, 0, 0) || !math.IsInf(r.T, 1) {
		t.Errorf("exact constant shift: t %g p %g, want +Inf and 0", r.T, r.P)
	}
}

func TestWelchT(t *testing.T) {
	// a = 1,2,3 (var 1), b = 4..7 (var 5/3): se² = 1/3 + 5/12 = 0.75,
	// t = −3.5/√0.75 = −4.041452, df = 0.75² / ((1/3)²/2 + (5/12)²/3) = 4.959184.
	r := WelchT([]float64{1, 2, 3}, []float64{4, 5, 6, 7, math.NaN()})
	if r.Dropped != 1 || r.N != 3 {
		t.Errorf("WelchT n %d dropped %d, want 3 and 1", r.N, r.Dropped)
	}
	if !within(r.Diff, -3.5, 1e-12) || !within(r.T, -4.041452, 1e-6) || !within(r.DF, 4.959184, 1e-6) {
		t.Errorf("WelchT: diff %g t %g df %g", r.Diff, r.T, r.DF)
	}
	if ref := tPValue(r.T, r.DF); !within(r.P, ref, 1e-6) {
		t.Errorf("WelchT p = %g, numerical integration %g", r.P, ref)
	}
	if r := WelchT([]float64{1}, []float64{2, 3}); !math.IsNaN(r.P) {
		t.Errorf("WelchT with one value: p %g, want NaN", r.P)
	}
}

func TestMcNemarByHand(t *testing.T) {
	// Two-sided exact p = 2·P(X ≤ min(b,c)), X ~ Binomial(b+c, 1/2), capped at 1.
	tests := []struct {
		b, c int
		want float64
	}{
		{0, 0, 1},
		{1, 5, 2 * 7.0 / 64},    // (C(6,0)+C(6,1))/2^6
		{5, 1, 2 * 7.0 / 64},    // symmetric
		{0, 6, 2 * 1.0 / 64},    // 0.03125
		{3, 3, 1},               // 2·42/64 capped
		{2, 8, 2 * 56.0 / 1024}, // (1+10+45)/2^10
		{10, 25, 0},             // set below: 2·P(X ≤ 10), X ~ B(35, ½)
	}
	// Exact reference for the last row: sum of C(35,k)/2^35 for k ≤ 10.
	var s float64
	c := 1.0
	for k := 0; k <= 10; k++ {
		s += c
		c = c * float64(35-k) / float64(k+1)
	}
	tests[len(tests)-1].want = 2 * s / math.Exp2(35)
	for _, tt := range tests {
		if got := McNemar(tt.b, tt.c); !within(got, tt.want, 1e-12) {
			t.Errorf("McNemar(%d, %d) = %g, want %g", tt.b, tt.c, got, tt.want)
		}
	}
	if got := McNemar(-1, 3); !math.IsNaN(got) {
		t.Errorf("McNemar(-1, 3) = %g, want NaN", got)
	}
	// A large table must stay finite and symmetric.
	if p1, p2 := McNemar(480, 520), McNemar(520, 480); !within(p1, p2, 1e-12) || !(p1 > 0.2 && p1 < 0.25) {
		t.Errorf("McNemar(480, 520) = %g, (520, 480) = %g, want about 0.218", p1, p2)
	}
}

func TestDiscordant(t *testing.T) {
	a := []bool{true, true, false, false, true}
	b := []bool{true, false, true, false, false, true}
	if x, y := Discordant(a, b); x != 2 || y != 1 {
		t.Errorf("Discordant = %d, %d, want 2, 1", x, y)
	}
}

func TestTwoProportionZ(t *testing.T) {
	// 90/100 vs 80/100: pooled 0.85, se = √(0.85·0.15·0.02) = 0.0504975,
	// z = 1.980295, p = 2(1 − Φ(1.980295)) = 2·0.023835 = 0.04767 (Φ from a normal table,
	// 1 − Φ(1.98) = 0.023852, less φ(1.98)·0.000295).
	d, z, p := TwoProportionZ(90, 100, 80, 100)
	if !within(d, 0.1, 1e-12) || !within(z, 1.980295, 1e-6) || !within(p, 0.04767, 1e-5) {
		t.Errorf("TwoProportionZ = %g, %g, %g; want 0.1, 1.980295, 0.04767", d, z, p)
	}
	if _, _, p := TwoProportionZ(5, 10, 5, 10); !within(p, 1, 1e-12) {
		t.Errorf("equal proportions: p %g, want 1", p)
	}
	if _, _, p := TwoProportionZ(11, 10, 5, 10); !math.IsNaN(p) {
		t.Errorf("k > n: p %g, want NaN", p)
	}
}

func TestHolmTextbook(t *testing.T) {
	// p = .01 .04 .03 .005: sorted .005·4 = .02, .01·3 = .03, .03·2 = .06,
	// .04·1 = .04 → raised to .06 to stay monotone.
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if !within(got[i], want[i], 1e-12) {
			t.Errorf("Holm[%d] = %g, want %g (all %v)", i, got[i], want[i], got)
		}
	}
	// A NaN does not count: m = 2, so .01·2 = .02 and .04·1 = .04.
	got = Holm([]float64{0.01, math.NaN(), 0.04})
	if !within(got[0], 0.02, 1e-12) || !math.IsNaN(got[1]) || !within(got[2], 0.04, 1e-12) {
		t.Errorf("Holm with NaN = %v, want [0.02 NaN 0.04]", got)
	}
	if got := Holm([]float64{0.6, 0.7}); !within(got[0], 1, 0) || !within(got[1], 1, 0) {
		t.Errorf("Holm caps at 1: %v", got)
	}
}
