package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// jsonNumber is a float64 that encodes NaN and ±Inf, which JSON cannot
// represent, as null (and decodes null as NaN).
type jsonNumber float64

// MarshalJSON implements json.Marshaler.
func (v jsonNumber) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *jsonNumber) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*v = jsonNumber(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = jsonNumber(f)
	return nil
}

// toJSON converts a float slice for encoding.
func toJSON(s []float64) []jsonNumber {
	if s == nil {
		return nil
	}
	out := make([]jsonNumber, len(s))
	for i, v := range s {
		out[i] = jsonNumber(v)
	}
	return out
}

// fromJSON converts a decoded slice back.
func fromJSON(s []jsonNumber) []float64 {
	if s == nil {
		return nil
	}
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// curveJSON is Curve's encoded form.
type curveJSON struct {
	FPR        []jsonNumber `json:"fpr"`
	TPR        []jsonNumber `json:"tpr"`
	Thresholds []jsonNumber `json:"thresholds,omitempty"`
	AUC        jsonNumber   `json:"auc"`
	Positives  int          `json:"positives"`
	Negatives  int          `json:"negatives"`
}

// MarshalJSON encodes the curve with NaN and infinite values (the +Inf
// first threshold, the rates and AUC of an undefined curve) as null, since
// encoding/json rejects them.
func (c Curve) MarshalJSON() ([]byte, error) {
	return json.Marshal(curveJSON{
		FPR: toJSON(c.FPR), TPR: toJSON(c.TPR), Thresholds: toJSON(c.Thresholds),
		AUC: jsonNumber(c.AUC), Positives: c.Positives, Negatives: c.Negatives,
	})
}

// UnmarshalJSON decodes what MarshalJSON encodes; null becomes NaN (so the
// first threshold reads back as NaN, not +Inf).
func (c *Curve) UnmarshalJSON(b []byte) error {
	var cj curveJSON
	if err := json.Unmarshal(b, &cj); err != nil {
		return err
	}
	*c = Curve{
		FPR: fromJSON(cj.FPR), TPR: fromJSON(cj.TPR), Thresholds: fromJSON(cj.Thresholds),
		AUC: float64(cj.AUC), Positives: cj.Positives, Negatives: cj.Negatives,
	}
	return nil
}

// rocJSON is ROCResult's encoded form.
type rocJSON struct {
	PerClass []Curve    `json:"per_class"`
	Micro    Curve      `json:"micro"`
	Macro    Curve      `json:"macro"`
	MacroAUC jsonNumber `json:"macro_auc"`
}

// MarshalJSON encodes the result with a NaN MacroAUC as null.
func (r ROCResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(rocJSON{PerClass: r.PerClass, Micro: r.Micro, Macro: r.Macro, MacroAUC: jsonNumber(r.MacroAUC)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *ROCResult) UnmarshalJSON(b []byte) error {
	var rj rocJSON
	if err := json.Unmarshal(b, &rj); err != nil {
		return err
	}
	*r = ROCResult{PerClass: rj.PerClass, Micro: rj.Micro, Macro: rj.Macro, MacroAUC: float64(rj.MacroAUC)}
	return nil
}
