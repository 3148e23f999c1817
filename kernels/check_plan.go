package kernels

import "fmt"

// The contract of the planned ops (Conv2D, BatchNorm, MaxPool): the shape a
// plan accepts, and the batch size and buffers of each call against it.

// CheckConvShape checks NewConv2D's arguments: positive sizes, an odd
// kernel, maxN ≥ 1.
func CheckConvShape(s ConvShape, maxN int) error {
	if s.C < 1 || s.H < 1 || s.W < 1 || s.OutC < 1 || s.K < 1 || s.K%2 == 0 || maxN < 1 {
		return fmt.Errorf("NewConv2D: bad shape %+v or maxN %d (K must be odd, sizes positive)", s, maxN)
	}
	return nil
}

// checkN checks a planned op's batch size: lo ≤ n ≤ maxN.
func checkN(op string, n, lo, maxN int) error {
	if n < lo || n > maxN {
		return fmt.Errorf("%s: n = %d outside [%d, %d]", op, n, lo, maxN)
	}
	return nil
}

// CheckConv checks a Conv2D call of direction op ("Conv2D.Forward",
// "Conv2D.BackwardData" or "Conv2D.BackwardFilter") on a plan of shape s
// for up to maxN: 1 ≤ n ≤ maxN (cuDNN cannot describe an empty batch);
// the input image buffer (x, or dy for
// BackwardData) holds n·C·H·W (n·OutC·H·W for dy), the weight buffer
// OutC·C·K·K, and the output buffer its shape. a, b, c are the call's
// buffers in the interface's order.
func CheckConv(op string, s ConvShape, maxN, n int, a, b, c Buffer) error {
	if err := checkN(op, n, 1, maxN); err != nil {
		return err
	}
	in, out, w := n*s.C*s.H*s.W, n*s.OutC*s.H*s.W, s.OutC*s.C*s.K*s.K
	switch op {
	case "Conv2D.Forward": // x, w, y
		return checkAll(op, [3]string{"x", "w", "y"}, [3]int{in, w, out}, a, b, c)
	case "Conv2D.BackwardData": // dy, w, dx
		return checkAll(op, [3]string{"dy", "w", "dx"}, [3]int{out, w, in}, a, b, c)
	case "Conv2D.BackwardFilter": // x, dy, dw
		return checkAll(op, [3]string{"x", "dy", "dw"}, [3]int{in, out, w}, a, b, c)
	}
	return fmt.Errorf("%s: not a Conv2D call", op)
}

// checkAll checks three F32 buffers.
func checkAll(op string, names [3]string, lens [3]int, a, b, c Buffer) error {
	if err := checkF32(op, names[0], a, lens[0]); err != nil {
		return err
	}
	if err := checkF32(op, names[1], b, lens[1]); err != nil {
		return err
	}
	return checkF32(op, names[2], c, lens[2])
}

// CheckBatchNormShape checks NewBatchNorm's arguments: positive sizes and
// eps > 0.
func CheckBatchNormShape(ch, spatial, maxN int, eps float32) error {
	if ch < 1 || spatial < 1 || maxN < 1 {
		return fmt.Errorf("NewBatchNorm: bad shape ch=%d spatial=%d maxN=%d", ch, spatial, maxN)
	}
	if !(eps > 0) {
		return fmt.Errorf("NewBatchNorm: eps = %v, want > 0", eps)
	}
	return nil
}

// bnN checks a BatchNorm call's batch size: 1 ≤ n ≤ maxN.
func bnN(op string, maxN, n int) error {
	return checkN(op, n, 1, maxN)
}

// checkChannels checks per-channel F32 buffers of ch values.
func checkChannels(op string, ch int, names [4]string, bufs ...Buffer) error {
	for i, b := range bufs {
		if err := checkF32(op, names[i], b, ch); err != nil {
			return err
		}
	}
	return nil
}

// CheckBatchNormTrain checks BatchNorm.ForwardTrain on a plan of ch
// channels of spatial values for up to maxN: 1 ≤ n ≤ maxN with more than
// one value per channel; x and y hold n·ch·spatial values, the others ch.
func CheckBatchNormTrain(ch, spatial, maxN, n int, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Buffer) error {
	const op = "BatchNorm.ForwardTrain"
	if err := bnN(op, maxN, n); err != nil {
		return err
	}
	if n*spatial < 2 {
		return fmt.Errorf("%s: need more than 1 value per channel, got n=%d spatial=%d", op, n, spatial)
	}
	if err := CheckElementwise(op, n*ch*spatial, [4]string{"x", "y"}, x, y); err != nil {
		return err
	}
	if err := checkChannels(op, ch, [4]string{"gamma", "beta", "runMean", "runVar"}, gamma, beta, runMean, runVar); err != nil {
		return err
	}
	return checkChannels(op, ch, [4]string{"saveMean", "saveInvStd"}, saveMean, saveInvStd)
}

// CheckBatchNormInfer checks BatchNorm.ForwardInfer: 1 ≤ n ≤ maxN; x and y
// hold n·ch·spatial values, gamma, beta and the running averages ch.
func CheckBatchNormInfer(ch, spatial, maxN, n int, x, gamma, beta, runMean, runVar, y Buffer) error {
	const op = "BatchNorm.ForwardInfer"
	if err := bnN(op, maxN, n); err != nil {
		return err
	}
	if err := CheckElementwise(op, n*ch*spatial, [4]string{"x", "y"}, x, y); err != nil {
		return err
	}
	return checkChannels(op, ch, [4]string{"gamma", "beta", "runMean", "runVar"}, gamma, beta, runMean, runVar)
}

// CheckBatchNormBackward checks BatchNorm.Backward: 1 ≤ n ≤ maxN; x, dy and
// dx hold n·ch·spatial values, gamma, the saved statistics, dgamma and
// dbeta ch.
func CheckBatchNormBackward(ch, spatial, maxN, n int, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Buffer) error {
	const op = "BatchNorm.Backward"
	if err := bnN(op, maxN, n); err != nil {
		return err
	}
	if err := CheckElementwise(op, n*ch*spatial, [4]string{"x", "dy", "dx"}, x, dy, dx); err != nil {
		return err
	}
	if err := checkChannels(op, ch, [4]string{"gamma", "saveMean", "saveInvStd"}, gamma, saveMean, saveInvStd); err != nil {
		return err
	}
	return checkChannels(op, ch, [4]string{"dgamma", "dbeta"}, dgamma, dbeta)
}

// CheckMaxPoolShape checks NewMaxPool's arguments: ch, maxN ≥ 1 and a
// window's room (h, w ≥ 2).
func CheckMaxPoolShape(ch, h, w, maxN int) error {
	if ch < 1 || h < 2 || w < 2 || maxN < 1 {
		return fmt.Errorf("NewMaxPool: bad shape ch=%d h=%d w=%d maxN=%d", ch, h, w, maxN)
	}
	return nil
}

// CheckMaxPool checks a MaxPool call op ("MaxPool.Forward" with x, y;
// "MaxPool.Backward" with x, y, dy, dx) on a plan of [ch, h, w] for up to
// maxN: 0 ≤ n ≤ maxN; x and dx hold n·ch·h·w values, y and dy
// n·ch·(h/2)·(w/2).
func CheckMaxPool(op string, ch, h, w, maxN, n int, x, y, dy, dx Buffer) error {
	if err := checkN(op, n, 0, maxN); err != nil {
		return err
	}
	in, out := n*ch*h*w, n*ch*(h/2)*(w/2)
	if err := checkF32(op, "x", x, in); err != nil {
		return err
	}
	if err := checkF32(op, "y", y, out); err != nil {
		return err
	}
	if op != "MaxPool.Backward" {
		return nil
	}
	if err := checkF32(op, "dy", dy, out); err != nil {
		return err
	}
	return checkF32(op, "dx", dx, in)
}
