package report

import (
	"fmt"
	"math"
	"mnistgpu/study/runs"
	"sort"
	"strconv"
	"strings"
	"time"

	"mnistgpu/kernels/cpu"
	"mnistgpu/model"
)

// document writes the report's content from the measured runs.
func (r *reportRun) document() (*document, error) {
	d := &document{
		Title: "MNIST with an MLP and a CNN: the course study, reproduced",
		Subtitle: "The seed report's study (Deep Learning, assignment 2: task 1 an MLP, task 2 a CNN), section by section. " +
			"Every number and figure here was measured by mnistgpu in the runs listed in the appendix; the seed report's own numbers are quoted for comparison.",
	}
	r.header(d)
	r.curves(d)
	r.testMetrics(d)
	r.predictions(d)
	r.filters(d)
	r.analysis(d)
	r.mlpVsCNN(d)
	r.tsne(d)
	r.findings(d)
	r.ablationSections(d)
	if err := r.architectures(d); err != nil {
		return nil, err
	}
	r.appendix(d)
	return d, nil
}

func (r *reportRun) header(d *document) {
	devs := map[string]bool{}
	var names []string
	var trainSec float64
	for _, j := range r.jobs {
		rec := r.records[j.Dir]
		if !devs[rec.Metrics.Device] {
			devs[rec.Metrics.Device] = true
			names = append(names, rec.Metrics.Device)
		}
		trainSec += rec.Metrics.TrainSeconds
	}
	sort.Strings(names)
	d.Header = append(d.Header, headerItem{Key: "Device", Value: strings.Join(names, ", ")})
	if r.o.DeviceInfo != "" {
		d.Header = append(d.Header, headerItem{Key: "Device details", Value: r.o.DeviceInfo, Pre: true})
	}
	mode := "full"
	if r.o.Quick {
		mode = "quick"
	}
	train := "the whole training set"
	if r.o.Subset > 0 {
		train = fmt.Sprintf("the first %s training images", Commas(r.o.Subset))
	}
	mode += fmt.Sprintf(": main runs %s, ablations %s, on %s; t-SNE of %s test images",
		plural(r.o.MainEpochs, "epoch"), plural(r.o.AblationEpochs, "epoch"), train, Commas(r.mainCfg[model.TaskMLP].TSNEPoints))
	if r.o.Quick {
		mode += ". A quick report checks the pipeline; its numbers are lower than a full run's and support fewer conclusions"
	}
	d.Header = append(d.Header, headerItem{Key: "Mode", Value: mode})
	d.Header = append(d.Header, headerItem{Key: "Seeds", Value: r.seedsLine()})
	if r.sizes[0] > 0 {
		d.Header = append(d.Header, headerItem{Key: "Data", Value: fmt.Sprintf("%s training, %s validation (held out of the training set), %s test images, from %s",
			Commas(r.sizes[0]), Commas(r.sizes[1]), Commas(r.sizes[2]), r.dataDir)})
	}
	runs := fmt.Sprintf("%d (%d trained now", len(r.jobs), r.trained)
	if r.skipped > 0 {
		runs += fmt.Sprintf(", %d finished by an earlier invocation and reused", r.skipped)
	}
	d.Header = append(d.Header, headerItem{Key: "Runs", Value: runs + ")"})
	d.Header = append(d.Header, headerItem{Key: "Total time", Value: fmt.Sprintf("%s for this invocation (training time summed over all runs: %s)",
		duration(time.Since(r.start).Seconds()), duration(trainSec))})
	d.Header = append(d.Header, headerItem{Key: "Generated", Value: time.Now().Format("2006-01-02 15:04 MST")})
	if r.o.Command != "" {
		d.Header = append(d.Header, headerItem{Key: "Reproduce", Value: r.o.Command, Code: true})
	}
}

// trainSetting describes the main runs' optimisation.
func (r *reportRun) trainSetting(task string) string {
	c := r.mainCfg[task].Train
	opt := c.Optimizer
	if opt == model.OptMomentum {
		opt = fmt.Sprintf("SGD with momentum %g", c.Momentum)
	}
	return fmt.Sprintf("%s, learning rate %g, batch %d, loss %s, %s, seed %d", opt, c.LR, c.BatchSize, c.Loss, plural(c.Epochs, "epoch"), c.Seed)
}

func (r *reportRun) curves(d *document) {
	s := d.section("1", "Loss and accuracy curves for training and validation")
	s.text("Each task trains once with the study's defaults (%s for task 1). The validation set is held out of the training set; "+
		"the training loss and accuracy are averaged over each epoch while the weights change (with dropout active), the validation ones measured after it.",
		r.trainSetting(model.TaskMLP))
	for i, t := range tasks() {
		sub := s.sub(fmt.Sprintf("1.%d", i+1), taskName(t))
		rec := r.main[t]
		if n := len(rec.History); n > 0 {
			h := rec.History[n-1]
			sub.text("After %s: training loss %s, accuracy %s; validation loss %s, accuracy %s.",
				plural(n, "epoch"), f4(h.TrainLoss), f4(h.TrainAcc), f4(h.ValLoss), f4(h.ValAcc))
		}
		d.addFigures(sub, r.figure(t, runs.FigLoss, runs.TaskTitle(t)+": training and validation loss"),
			r.figure(t, runs.FigAccuracy, runs.TaskTitle(t)+": training and validation accuracy"))
	}
}

func taskName(t string) string {
	if t == model.TaskCNN {
		return "Task 2: CNN"
	}
	return "Task 1: MLP"
}

func (r *reportRun) testMetrics(d *document) {
	s := d.section("2", "Confusion matrices, recall and accuracy on the test set")
	s.text("The seed's \"recall score\" is the support-weighted recall, which always equals the accuracy; its \"F1 score\" is the weighted F1. Both are given, with the macro averages.")
	for i, t := range tasks() {
		sub := s.sub(fmt.Sprintf("2.%d", i+1), taskName(t))
		m := r.main[t].Metrics
		seed := seedMain(t)
		tb := &table{Head: []string{"metric", "mnistgpu", "seed report"}, Num: []bool{false, true, true}}
		tb.Rows = [][]string{
			{"accuracy", f4(m.Accuracy), f4(seed[0])},
			{"weighted recall", f4(m.WeightedRecall), f4(seed[1])},
			{"weighted F1", f4(m.WeightedF1), f4(seed[2])},
			{"macro recall", f4(m.MacroRecall), "—"},
			{"macro F1", f4(m.MacroF1), "—"},
			{"test loss", f4(float64(m.TestLoss)), "—"},
		}
		if m.AUC != nil {
			tb.Rows = append(tb.Rows, []string{"ROC AUC (micro / macro)", f4(float64(m.AUC.Micro)) + " / " + f4(float64(m.AUC.Macro)), "—"})
		}
		tb.Caption = fmt.Sprintf("%s: test metrics on %s test images", runs.TaskTitle(t), Commas(m.Samples))
		if mc := r.mainCell(t); len(mc.Runs) > 1 {
			var f1 []float64
			for _, h := range mc.Healthy {
				f1 = append(f1, h.Metrics.WeightedF1)
			}
			tb.Rows = append(tb.Rows,
				[]string{fmt.Sprintf("accuracy over %d seeds (mean ± 95 %% CI)", mc.Acc.N), mc.Acc.FormatCI(4), "—"},
				[]string{fmt.Sprintf("weighted F1 over %d seeds (mean ± 95 %% CI)", mc.Acc.N), runs.StatOf(f1).FormatCI(4), "—"})
			tb.Caption += fmt.Sprintf("; the single-run rows are seed %d's, the run with the figures", r.mainCfg[t].Train.Seed)
		}
		sub.table(tb)
		cmp := fmt.Sprintf("Against the seed's %s: %s.", f4(seed[0]), points(m.Accuracy-seed[0]))
		if r.o.Quick {
			cmp += " (A quick report trains less than the seed did: only indicative.)"
		}
		sub.text("%s", cmp)
		pc := &table{Head: []string{"class", "precision", "recall", "F1", "support"}, Num: []bool{false, true, true, true, true},
			Caption: runs.TaskTitle(t) + ": per class"}
		for _, c := range m.PerClass {
			pc.Rows = append(pc.Rows, []string{strconv.Itoa(c.Class), f4(c.Precision), f4(c.Recall), f4(c.F1), Commas(c.Support)})
		}
		sub.table(pc)
		d.addFigures(sub, r.figure(t, runs.FigConfusion, runs.TaskTitle(t)+": confusion matrix (rows true, columns predicted)"))
	}
}

// topConfusions lists the most frequent off-diagonal cells.
func topConfusions(m [][]int, n int) string {
	type cell struct{ t, p, c int }
	var cs []cell
	for t, row := range m {
		for p, c := range row {
			if t != p && c > 0 {
				cs = append(cs, cell{t, p, c})
			}
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].c > cs[j].c })
	var parts []string
	for _, c := range cs[:min(n, len(cs))] {
		parts = append(parts, fmt.Sprintf("%d taken for %d (%d times)", c.t, c.p, c.c))
	}
	return strings.Join(parts, ", ")
}

// testErrors is how many test images a run classified wrongly.
func testErrors(m runs.Metrics) int {
	return m.Samples - int(math.Round(m.Accuracy*float64(m.Samples)))
}

func (r *reportRun) predictions(d *document) {
	s := d.section("3", "Right and wrong predictions")
	s.text("The first %d test images each network classified correctly and the first it got wrong, captioned with the predicted and the true label.", runs.GridImages)
	for i, t := range tasks() {
		sub := s.sub(fmt.Sprintf("3.%d", i+1), taskName(t))
		m := r.main[t].Metrics
		wrong := testErrors(m)
		sub.text("%s of %s test images are wrong (%.2f %%). The most frequent confusions: %s.",
			Commas(wrong), Commas(m.Samples), 100*float64(wrong)/float64(max(m.Samples, 1)), runs.OrNone(topConfusions(m.Confusion, 3)))
		d.addFigures(sub, r.figure(t, runs.FigCorrect, runs.TaskTitle(t)+": correct predictions"), r.figure(t, runs.FigWrong, runs.TaskTitle(t)+": wrong predictions"))
	}
}

func (r *reportRun) filters(d *document) {
	s := d.section("4", "Learned filters of the last convolution layer")
	s.text("Only task 2 has convolution layers. Its filters are read from the trained network's parameters after the last epoch.")
	sub := s.sub("4.1", taskName(model.TaskCNN))
	a := r.mainCfg[model.TaskCNN].Arch
	if len(a.Channels) > 0 {
		in := 1
		if len(a.Channels) > 1 {
			in = a.Channels[len(a.Channels)-2]
		}
		sub.text("conv%d has %d filters, each %d input channels of %d×%d weights, drawn on a blue–white–red scale centred on zero.",
			len(a.Channels), a.Channels[len(a.Channels)-1], in, a.Kernel, a.Kernel)
	}
	d.addFigures(sub, r.figure(model.TaskCNN, runs.FigFilters, runs.TaskTitle(model.TaskCNN)+": learned filters of the last conv layer"))
}

// analysis is section 5: every experiment in one table.
func (r *reportRun) analysis(d *document) {
	s := d.section("5", "Analysis of the experiments")
	rep := "one run (one seed) per value"
	if r.o.Repeat > 1 {
		rep = fmt.Sprintf("%d runs (seeds) per value", r.o.Repeat)
	}
	s.text("Sections 9 and 10 change one setting at a time, %s, everything else as in the main runs (%s). %s "+
		"A run is diverged when its loss became NaN or its test accuracy is below %.1f (chance is 0.1); "+
		"diverged runs are flagged and left out of every comparison.",
		rep, plural(r.o.AblationEpochs, "epoch"), r.testsText(), runs.DivergedAccuracy)
	tb := &table{Head: []string{"section", "task", "experiment", "values", "best", "accuracy", "largest gap", "a difference significant", "diverged runs"},
		Num: []bool{false, false, false, false, false, true, true, false, true}, Flag: map[int]bool{}}
	for _, a := range r.abl {
		_, best, spread, clear := r.summary(a)
		var vals []string
		div := 0
		for _, c := range a.Cells {
			vals = append(vals, c.Label)
			div += len(c.Why)
		}
		bestName, bestAcc := "—", "—"
		if best != nil {
			bestName, bestAcc = best.Label, accText(best)
		}
		if div > 0 {
			tb.Flag[len(tb.Rows)] = true
		}
		tb.Rows = append(tb.Rows, []string{a.Number, runs.TaskTitle(a.Task), a.Title, strings.Join(vals, " / "), bestName, bestAcc,
			strings.TrimPrefix(points(spread), "+"), yesNo(clear), strconv.Itoa(div)})
	}
	s.table(tb)
	s.text("The conclusions drawn from these numbers are in section 8; each experiment's table and chart are in sections 9 and 10.")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (r *reportRun) mlpVsCNN(d *document) {
	s := d.section("6", "Without and with convolution layers: MLP vs CNN")
	tb := &table{Head: []string{"model", "parameters", "test accuracy", "weighted F1", "test loss", "ROC AUC micro", "ROC AUC macro", "test errors", "accuracy per 1,000 parameters", "training time"},
		Num: []bool{false, true, true, true, true, true, true, true, true, true}}
	if r.o.Repeat > 1 {
		tb.Head = append(tb.Head, "accuracy over seeds", "n")
		tb.Num = append(tb.Num, true, true)
		tb.Caption = fmt.Sprintf("Seed %d's main runs; the last columns are the mean ± 95 %% confidence interval over every seed", r.mainCfg[model.TaskMLP].Train.Seed)
	}
	for _, t := range tasks() {
		m := r.main[t].Metrics
		micro, macro := "—", "—"
		if m.AUC != nil {
			micro, macro = f4(float64(m.AUC.Micro)), f4(float64(m.AUC.Macro))
		}
		wrong := testErrors(m)
		tb.Rows = append(tb.Rows, []string{runs.TaskTitle(t), Commas(m.Params), f4(m.Accuracy), f4(m.WeightedF1), f4(float64(m.TestLoss)), micro, macro,
			Commas(wrong), strconv.FormatFloat(m.Accuracy/float64(m.Params)*1000, 'f', 4, 64), duration(m.TrainSeconds)})
		if r.o.Repeat > 1 {
			mc := r.mainCell(t)
			tb.Rows[len(tb.Rows)-1] = append(tb.Rows[len(tb.Rows)-1], mc.Acc.FormatCI(4), strconv.Itoa(mc.Acc.N))
		}
	}
	s.table(tb)
	s.text("%s", r.mlpVsCNNSentence())
	for i, t := range tasks() {
		title := "Task 1: without convolution layers (MLP)"
		if t == model.TaskCNN {
			title = "Task 2: with convolution layers (CNN)"
		}
		sub := s.sub(fmt.Sprintf("6.%d", i+1), title)
		tt := runs.TaskTitle(t)
		d.addFigures(sub, r.figure(t, runs.FigROC, tt+": ROC curves, one class vs the rest; right, the top-left corner with the false positive rate on a log scale, where the classes differ"), r.figure(t, runs.FigAccuracy, tt+": accuracy"),
			r.figure(t, runs.FigLoss, tt+": loss"), r.figure(t, runs.FigConfusion, tt+": confusion matrix"),
			r.figure(t, runs.FigTSNEFinal, tt+": t-SNE of the test logits after training"))
	}
}

// mlpVsCNNSentence compares the main runs: accuracy, its test, parameters.
func (r *reportRun) mlpVsCNNSentence() string {
	mlp, cnn := r.mainCell(model.TaskMLP), r.mainCell(model.TaskCNN)
	pm, pc := r.main[model.TaskMLP].Metrics.Params, r.main[model.TaskCNN].Metrics.Params
	if !mlp.ok() || !cnn.ok() {
		return "A main run diverged (see section 8), so the two models are not compared."
	}
	cmp := r.compare(cnn, mlp, false)
	d, clear := cnn.Acc.Mean-mlp.Acc.Mean, cmp.clear()
	ratio := float64(pm) / float64(max(pc, 1))
	size := fmt.Sprintf("with %s parameters against the MLP's %s (%.0f× fewer)", Commas(pc), Commas(pm), ratio)
	if pc > pm {
		size = fmt.Sprintf("with %s parameters against the MLP's %s", Commas(pc), Commas(pm))
	}
	switch {
	case d > 0 && clear:
		return fmt.Sprintf("The CNN is more accurate than the MLP by %s (CNN %s, MLP %s; %s) %s.", strings.TrimPrefix(points(d), "+"), accText(cnn), accText(mlp), cmp.evidence(), size)
	case !clear:
		return fmt.Sprintf("The CNN and the MLP are not significantly different at %g (CNN %s, MLP %s, %s; %s), the CNN %s.", alpha, accText(cnn), accText(mlp), points(d), cmp.evidence(), size)
	default:
		return fmt.Sprintf("The MLP is more accurate than the CNN by %s (MLP %s, CNN %s; %s); the CNN works %s.", strings.TrimPrefix(points(-d), "+"), accText(mlp), accText(cnn), cmp.evidence(), size)
	}
}

// mainCell wraps a task's main runs (one per seed) as an ablation cell
// for comparisons.
func (r *reportRun) mainCell(t string) *ablCell {
	rs := r.mainRuns[t]
	if len(rs) == 0 {
		rs = []*runs.Record{r.main[t]}
	}
	c := &ablCell{Value: "main", Label: runs.TaskTitle(t), Runs: rs, Seed: math.NaN()}
	var acc []float64
	for _, rec := range rs {
		if why := rec.Diverged(); why != "" {
			c.Why = append(c.Why, why)
		} else {
			c.Healthy = append(c.Healthy, rec)
			acc = append(acc, rec.Metrics.Accuracy)
		}
	}
	c.Acc = runs.StatOf(acc)
	return c
}

func (r *reportRun) tsne(d *document) {
	s := d.section("7", "t-SNE of the last layer after the first epoch and after training")
	cfg := r.mainCfg[model.TaskMLP]
	layer := "the logits (the last fully connected layer's outputs)"
	if cfg.TSNELayer == "penultimate" {
		layer = "the inputs of the last fully connected layer"
	}
	s.text("Each plot embeds %s of the first %s test images in two dimensions with Barnes-Hut t-SNE (perplexity 30), coloured by the true digit.",
		layer, Commas(cfg.TSNEPoints))
	for i, t := range tasks() {
		sub := s.sub(fmt.Sprintf("7.%d", i+1), taskName(t))
		h := r.main[t].History
		if len(h) > 0 {
			first, last := h[0], h[len(h)-1]
			sub.text("Validation accuracy was %s after epoch 1 and %s after epoch %d (%s); validation loss went from %s to %s.",
				f4(first.ValAcc), f4(last.ValAcc), last.Epoch, points(last.ValAcc-first.ValAcc), f4(first.ValLoss), f4(last.ValLoss))
		}
		d.addFigures(sub, r.figure(t, runs.FigTSNEEpoch1, runs.TaskTitle(t)+": t-SNE after epoch 1"),
			r.figure(t, runs.FigTSNEFinal, runs.TaskTitle(t)+": t-SNE after training"))
	}
}

// claim checks "value want of flag is best" on task: the verdict and the
// evidence. The claimed value is compared with each other value by the
// test that fits the design, Holm-corrected over those comparisons.
func (r *reportRun) claim(task, flag, want string) (verdict, evidence string) {
	a := r.ablation(task, flag)
	w := r.find(task, flag, want)
	if a == nil || w == nil {
		return "", ""
	}
	if !w.ok() {
		return "not measured", fmt.Sprintf("the %s run diverged (%s)", a.describe(w), w.Why[0])
	}
	var parts []string
	var others []*ablCell
	var cs []*comparison
	for _, c := range a.Cells {
		if c == w {
			continue
		}
		if !c.ok() {
			parts = append(parts, fmt.Sprintf("%s diverged (%s) and is not counted", a.describe(c), c.Why[0]))
			continue
		}
		cmp := r.compare(w, c, a.unpaired())
		others, cs = append(others, c), append(cs, &cmp)
	}
	holm(cs)
	beaten, behind, allClear, anyClear := false, false, true, false
	for i, c := range others {
		cmp := cs[i]
		dlt, cl := w.Acc.Mean-c.Acc.Mean, cmp.clear()
		parts = append(parts, fmt.Sprintf("%s %s vs %s %s (%s; %s: %s)", w.Label, accText(w), c.Label, accText(c), points(dlt), cmp.word(), cmp.evidence()))
		if dlt < 0 {
			behind = true
			beaten = beaten || cl
		}
		allClear = allClear && cl
		anyClear = anyClear || (cl && dlt > 0)
	}
	switch {
	case len(others) == 0:
		verdict = "not measured"
	case beaten:
		verdict = "contradicted"
	case behind:
		verdict = "not supported"
	case allClear:
		verdict = "supported"
	case anyClear:
		verdict = "partly supported (ahead of every alternative, but significantly only against some)"
	default:
		verdict = "not clearly supported (ahead, but not significantly)"
	}
	if len(w.Runs) == 1 && len(others) > 0 {
		verdict += " for these trained models (one seed each)"
	}
	return verdict, strings.Join(parts, "; ")
}

// claimItem formats a seed claim's check on each task that measured it.
func (r *reportRun) claimItem(quote, flag, want string, note func(task string) string) string {
	var parts []string
	for _, t := range tasks() {
		v, ev := r.claim(t, flag, want)
		if v == "" {
			continue
		}
		p := fmt.Sprintf("%s: %s — %s.", runs.TaskTitle(t), v, ev)
		if note != nil {
			if n := note(t); n != "" {
				p += " " + n
			}
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Seed: “%s” Not measured in this report.", quote)
	}
	return fmt.Sprintf("Seed: “%s” %s", quote, strings.Join(parts, " "))
}

func (r *reportRun) findings(d *document) {
	s := d.section("8", "What we learned")
	s.text("Each conclusion of the seed's section 8, checked against the measurements of this report, then what else the numbers say. "+
		"Verdicts: supported (the claimed winner is ahead of every alternative, each difference significant at 0.05), partly supported (ahead of all, significantly of some), "+
		"not clearly supported (ahead, but not significantly), not supported (behind, not significantly), contradicted (significantly behind). %s", r.testsText())
	s1 := s.sub("8.1", "The seed's conclusions, checked")
	var items []string
	items = append(items, r.claimItem("Relu works better than sigmoid and tanh.", "activation", "relu", nil))
	mlp, cnn := r.main[model.TaskMLP].Metrics, r.main[model.TaskCNN].Metrics
	{
		mc, cc := r.mainCell(model.TaskMLP), r.mainCell(model.TaskCNN)
		v := "not measured (a main run diverged)"
		if mc.ok() && cc.ok() {
			dlt, cl := cc.Acc.Mean-mc.Acc.Mean, r.compare(cc, mc, false).clear()
			switch {
			case dlt > 0 && cl && cnn.Params < mlp.Params:
				v = "supported"
			case !cl && cnn.Params < mlp.Params:
				v = "partly supported: not significantly different in accuracy, with far fewer parameters"
			case dlt < 0 && cl:
				v = "contradicted in accuracy"
			default:
				v = "not clearly supported"
			}
		}
		items = append(items, fmt.Sprintf("Seed: “CNNs work better than NN even with less parametters.” %s — %s Accuracy per 1,000 parameters: CNN %.3f, MLP %.4f.",
			v, r.mlpVsCNNSentence(), cnn.Accuracy/float64(max(cnn.Params, 1))*1000, mlp.Accuracy/float64(max(mlp.Params, 1))*1000))
	}
	items = append(items, r.claimItem("Greater the batch size, better the training. This mean that with same number of epochs, having larger batch size leads to less test and training loss.",
		"batch-size", "64", r.batchNote))
	items = append(items, r.claimItem("using batch normalization improves the performance of CNN.", "batchnorm", "true", nil))
	items = append(items, r.claimItem("Using dropout model can generalize better.", "dropout", "0.3", r.dropoutNote))
	s1.list(items)

	s2 := s.sub("8.2", "Further findings")
	var more []string
	more = append(more, r.seedComparison())
	for _, flag := range []string{"epochs", "hidden", "loss", "lr", "train-ratio"} {
		for _, t := range tasks() {
			a := r.ablation(t, flag)
			if a == nil {
				continue
			}
			txt, _, _, _ := r.summary(a)
			more = append(more, fmt.Sprintf("%s, %s (section %s): %s%s", runs.TaskTitle(t), strings.ToLower(a.Title), a.Number, txt, r.flagNote(t, flag)))
		}
	}
	for _, t := range tasks() {
		if h := r.main[t].History; len(h) > 1 {
			first, last := h[0].ValAcc, h[len(h)-1].ValAcc
			share := (first - 0.1) / (last - 0.1)
			more = append(more, fmt.Sprintf("%s: validation accuracy %s after epoch 1 and %s after epoch %d, so epoch 1 made %.0f %% of the gain over chance (0.1) and the other %s %.0f %%.",
				runs.TaskTitle(t), f4(first), f4(last), h[len(h)-1].Epoch, 100*share, plural(len(h)-1, "epoch"), 100*(1-share)))
		}
	}
	s2.list(more)

	s3 := s.sub("8.3", "Diverged runs")
	var div []string
	for _, j := range r.jobs {
		if why := r.records[j.Dir].Diverged(); why != "" {
			div = append(div, fmt.Sprintf("%s (%s): %s. Flagged as diverged, not read as a finding about its setting.", j.Name, r.rel(j.Dir), why))
		}
	}
	if len(div) == 0 {
		s3.text("No run diverged: every loss stayed runs.Finite and every test accuracy is at least %.1f.", runs.DivergedAccuracy)
	} else {
		s3.warn("%d of %d runs diverged; they are flagged in every table and left out of the comparisons.", len(div), len(r.jobs))
		s3.list(div)
	}
}

// flagNote adds what a reader needs to know about an experiment's numbers.
func (r *reportRun) flagNote(task, flag string) string {
	switch flag {
	case "loss":
		return " (ce and nll are the same function on logits — log-softmax then negative log-likelihood — so equal numbers are expected; mse compares the softmax with the one-hot label and has much smaller gradients.)"
	case "train-ratio":
		return " (Each ratio re-splits the pooled 70,000 images, so the accuracies are measured on different test sets, and on more or fewer training images.)"
	case "epochs":
		if task == model.TaskMLP && !r.o.Quick {
			return " (The seed found 5 epochs slightly better than 10 for task 1: 0.9171 vs 0.9070.)"
		}
	case "hidden":
		a := r.ablation(task, flag)
		var ps []string
		for _, c := range a.Cells {
			if len(c.Runs) > 0 {
				ps = append(ps, fmt.Sprintf("%s: %s parameters", c.Label, Commas(c.Runs[0].Metrics.Params)))
			}
		}
		return " (" + strings.Join(ps, ", ") + ".)"
	}
	return ""
}

// batchNote adds the losses and step counts to the batch-size claim.
func (r *reportRun) batchNote(task string) string {
	a, b := r.find(task, "batch-size", "32"), r.find(task, "batch-size", "64")
	if a == nil || b == nil || !a.ok() || !b.ok() {
		return ""
	}
	ra, rb := a.Healthy[0], b.Healthy[0]
	n := r.sizes[0]
	e := ra.Config.Train.Epochs
	steps := ""
	if n > 0 {
		steps = fmt.Sprintf(" At a fixed %s, batch 32 takes %s optimizer steps and batch 64 %s.", plural(e, "epoch"),
			Commas(e*((n+31)/32)), Commas(e*((n+63)/64)))
	}
	tl32, tl64 := float64(ra.Metrics.TestLoss), float64(rb.Metrics.TestLoss)
	tr32, tr64 := ra.FinalTrainLoss(), rb.FinalTrainLoss()
	var losses string
	switch {
	case tl64 < tl32 && tr64 < tr32:
		losses = "both lower at 64, as the seed says"
	case tl64 > tl32 && tr64 > tr32:
		losses = "both lower at 32, the opposite of the seed's claim"
	default:
		losses = "mixed"
	}
	return fmt.Sprintf("Losses %s: test loss %s (32) vs %s (64), final training loss %s vs %s.%s",
		losses, f4(tl32), f4(tl64), f4(tr32), f4(tr64), steps)
}

// dropoutNote adds the generalisation gap to the dropout claim.
func (r *reportRun) dropoutNote(task string) string {
	with, without := r.find(task, "dropout", "0.3"), r.find(task, "dropout", "0")
	if with == nil || without == nil || !with.ok() || !without.ok() {
		return ""
	}
	gap := func(rec *runs.Record) float64 { return rec.FinalValLoss() - rec.FinalTrainLoss() }
	return fmt.Sprintf("Validation minus training loss: %s with dropout, %s without (the training loss is measured with dropout active, which inflates it).",
		f4(gap(with.Healthy[0])), f4(gap(without.Healthy[0])))
}

func (r *reportRun) ablationSections(d *document) {
	for i, t := range tasks() {
		num := strconv.Itoa(9 + i)
		title := "Task 1: accuracy when changing layers, loss, batch size, learning rate, epochs and the train/test ratio"
		if t == model.TaskCNN {
			title = "Task 2: accuracy when adding or removing batch norm or dropout, and changing loss, batch size, learning rate, epochs and the train/test ratio"
		}
		s := d.section(num, title)
		subset := ""
		if r.o.Subset > 0 {
			subset = fmt.Sprintf(" on the first %s training images", Commas(r.o.Subset))
		}
		s.text("Each experiment changes one flag of mnistgpu train %s; every other setting is the main run's (%s%s). "+
			"The row marked default is the same run in every experiment, trained once.", t, plural(r.o.AblationEpochs, "epoch"), subset)
		for _, a := range r.abl {
			if a.Task == t {
				r.ablationSection(d, s, a)
			}
		}
		if len(s.Subs) == 0 {
			s.text("No experiment of this task was run.")
		}
	}
}

func (r *reportRun) ablationSection(d *document, s *section, a *ablResult) {
	sub := s.sub(a.Number, a.Title)
	var vals []string
	for _, c := range a.Cells {
		vals = append(vals, c.Value)
	}
	sub.text("Flag --%s: %s.", a.Flag, strings.Join(vals, ", "))
	hasSeed := false
	for _, c := range a.Cells {
		hasSeed = hasSeed || !math.IsNaN(c.Seed)
	}
	head := []string{a.Flag, "n", "test accuracy", "weighted F1", "test loss", "train loss", "val loss", "train time"}
	num := []bool{false, true, true, true, true, true, true, true}
	if hasSeed {
		head, num = append(head, "seed report"), append(num, true)
	}
	head, num = append(head, "status", "run folder"), append(num, false, false)
	tb := &table{Head: head, Num: num, Flag: map[int]bool{}, Caption: fmt.Sprintf("%s: %s (test accuracy equals weighted recall%s)", runs.TaskTitle(a.Task), strings.ToLower(a.Title), r.ciNote())}
	for i, c := range a.Cells {
		label := c.Label
		if c.Default {
			label += " (default)"
		}
		var losses []float64
		for _, rec := range c.Runs {
			losses = append(losses, float64(rec.Metrics.TestLoss))
		}
		row := []string{label, strconv.Itoa(len(c.Runs)), c.Row.Accuracy.FormatCI(4), c.Row.WeightedF1.FormatCI(4), runs.StatOf(losses).FormatCI(4),
			c.Row.TrainLoss.FormatCI(4), c.Row.ValLoss.FormatCI(4), duration(c.Row.TrainSeconds.Mean)}
		if hasSeed {
			sv := "—"
			if !math.IsNaN(c.Seed) {
				sv = f4(c.Seed)
			}
			row = append(row, sv)
		}
		status := "ok"
		if len(c.Why) > 0 {
			status = fmt.Sprintf("DIVERGED (%d of %d): %s", len(c.Why), len(c.Runs), c.Why[0])
			tb.Flag[i] = true
		}
		var dirs []string
		for _, dir := range c.Dirs {
			dirs = append(dirs, r.rel(dir))
		}
		row = append(row, status, strings.Join(dirs, ", "))
		tb.Rows = append(tb.Rows, row)
	}
	sub.table(tb)
	d.addFigures(sub, figure{Src: a.Chart, Caption: fmt.Sprintf("%s: test error (1 − accuracy) by %s%s; the table has the numbers", runs.TaskTitle(a.Task), a.Flag, r.barsNote())})
	txt, _, _, _ := r.summary(a)
	sub.text("%s%s", txt, r.flagNote(a.Task, a.Flag))
	for _, c := range a.Cells {
		if len(c.Why) > 0 {
			sub.warn("%s diverged (%s). At these settings training failed, so this row measures the failure, not the effect of %s; it is left out of the comparisons.",
				a.describe(c), c.Why[0], a.Flag)
		}
	}
}

// layerTable describes a network layer by layer.
func layerTable(arch model.Arch, seed uint64) (*table, []model.LayerInfo, int, error) {
	dev := cpu.New(1)
	defer dev.Close()
	net, err := model.Build(dev, arch, 1, seed)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("architecture table: %w", err)
	}
	defer net.Close()
	layers := net.Layers()
	tb := &table{Head: []string{"layer", "type", "output shape", "parameters", "details"}, Num: []bool{false, false, true, true, false}}
	in := arch.Input
	tb.Rows = append(tb.Rows, []string{"input", "", shape(in), "0", "28×28 grey image, normalised with MNIST's mean and std"})
	for _, l := range layers {
		tb.Rows = append(tb.Rows, []string{l.Name, l.Kind, shape(l.Output), Commas(l.Params), l.Describe})
	}
	tb.Rows = append(tb.Rows, []string{"total", "", "", Commas(net.NumParams()), "softmax is applied by the loss"})
	return tb, layers, net.NumParams(), nil
}

func shape(s []int) string {
	var p []string
	for _, v := range s {
		p = append(p, strconv.Itoa(v))
	}
	return strings.Join(p, "×")
}

func (r *reportRun) architectures(d *document) error {
	s := d.section("11", "The architectures and why")
	s.text("Both networks as built by mnistgpu, layer by layer, with PyTorch's layer names, each layer's output shape for one image and its parameter count.")
	tables := map[string]*table{}
	layers := map[string][]model.LayerInfo{}
	params := map[string]int{}
	for _, t := range tasks() {
		tb, ls, n, err := layerTable(r.mainCfg[t].Arch, r.mainCfg[t].Train.Seed)
		if err != nil {
			return err
		}
		tb.Caption = runs.TaskTitle(t) + ": layers (PyTorch names and shapes)"
		tables[t], layers[t], params[t] = tb, ls, n
	}
	a1 := r.mainCfg[model.TaskMLP].Arch
	s1 := s.sub("11.1", taskName(model.TaskMLP))
	s1.text("The image is flattened to %d inputs, followed by %d hidden layers of %s units, each with %s and dropout %g, and a linear layer of %d logits. "+
		"The seed chose the widths 128 and 64 at random after trying a few and kept ReLU because it trains better than sigmoid (section 9 measures both choices). "+
		"%s parameters in all.", prodInts(a1.Input), len(a1.Hidden), joinInts(a1.Hidden), a1.Activation, a1.Dropout, a1.Classes, Commas(params[model.TaskMLP]))
	s1.table(tables[model.TaskMLP])
	a2 := r.mainCfg[model.TaskCNN].Arch
	s2 := s.sub("11.2", taskName(model.TaskCNN))
	bn := ""
	if a2.BatchNorm {
		bn = " batch norm,"
	}
	s2.text("%d blocks of a %d×%d convolution (\"same\" padding; %s channels),%s %s and 2×2 max-pooling shrink the image from 28×28 to %d×%d, "+
		"and one linear layer maps the flattened features to %d logits. No dropout: the network is small and shallow. %s parameters in all.",
		len(a2.Channels), a2.Kernel, a2.Kernel, joinInts(a2.Channels), bn, a2.Activation, 28>>len(a2.Channels), 28>>len(a2.Channels), a2.Classes, Commas(params[model.TaskCNN]))
	s2.table(tables[model.TaskCNN])

	s12 := d.section("12", "Task 1: choosing the number of hidden layers and units")
	s12.text("The seed picked two hidden layers of 128 and 64 units, \"the least complex architecture having the same performance\" among the combinations it tried.")
	if a := r.ablation(model.TaskMLP, "hidden"); a != nil {
		tb := &table{Head: []string{"hidden layers", "parameters", "n", "test accuracy", "status"}, Num: []bool{false, true, true, true, false}}
		for _, c := range a.Cells {
			p, st := "—", "ok"
			if len(c.Runs) > 0 {
				p = Commas(c.Runs[0].Metrics.Params)
			}
			if len(c.Why) > 0 {
				st = "diverged"
			}
			tb.Rows = append(tb.Rows, []string{c.Label, p, strconv.Itoa(len(c.Runs)), c.Row.Accuracy.FormatCI(4), st})
		}
		s12.table(tb)
		txt, best, _, clear := r.summary(a)
		concl := ""
		switch {
		case best == nil:
		case !clear:
			concl = "The extra layer buys no significant difference, which supports keeping the smaller network, as the seed did."
		case best == a.Cells[0]:
			concl = fmt.Sprintf("The main network (%s) is significantly better: the extra layer hurts at these settings.", best.Label)
		default:
			concl = fmt.Sprintf("%s is significantly better: at these settings the extra layer pays for its parameters.", best.Label)
		}
		s12.text("%s %s", txt, concl)
	}
	l1 := layers[model.TaskMLP]
	if len(l1) > 0 && l1[0].Params > 0 {
		s12.text("The first layer holds %s of the %s parameters (%.0f %%): the width of the first hidden layer sets the model's size.",
			Commas(l1[0].Params), Commas(params[model.TaskMLP]), 100*float64(l1[0].Params)/float64(params[model.TaskMLP]))
	}

	s13 := d.section("13", "Task 2: choosing the number of filters and of fully connected layers")
	s13.text("The seed used 3×3 filters (odd sizes keep a centre pixel and symmetric padding), %s channels per block, batch norm and max-pooling, "+
		"and a single fully connected layer, for simplicity and good performance.", joinInts(a2.Channels))
	tb := &table{Head: []string{"part", "parameters", "share"}, Num: []bool{false, true, true}}
	for _, l := range layers[model.TaskCNN] {
		if l.Params > 0 {
			tb.Rows = append(tb.Rows, []string{l.Name + " " + l.Describe, Commas(l.Params), fmt.Sprintf("%.1f %%", 100*float64(l.Params)/float64(params[model.TaskCNN]))})
		}
	}
	s13.table(tb)
	mlpP := params[model.TaskMLP]
	fc := 0
	for _, l := range layers[model.TaskCNN] {
		if l.Kind == "Linear" {
			fc += l.Params
		}
	}
	s13.text("The fully connected layer holds %s of the CNN's %s parameters (%.0f %%); the whole CNN is %.0f× smaller than the MLP (%s). %s",
		Commas(fc), Commas(params[model.TaskCNN]), 100*float64(fc)/float64(max(params[model.TaskCNN], 1)),
		float64(mlpP)/float64(max(params[model.TaskCNN], 1)), Commas(mlpP), r.mlpVsCNNSentence())
	if a := r.ablation(model.TaskCNN, "batchnorm"); a != nil {
		txt, _, _, _ := r.summary(a)
		s13.text("Batch norm (section %s): %s", a.Number, txt)
	}
	if a := r.ablation(model.TaskCNN, "dropout"); a != nil {
		txt, _, _, _ := r.summary(a)
		s13.text("Dropout, which the seed left out (section %s): %s", a.Number, txt)
	}
	return nil
}

func joinInts(v []int) string {
	var p []string
	for _, x := range v {
		p = append(p, strconv.Itoa(x))
	}
	return strings.Join(p, ", ")
}

func prodInts(v []int) int {
	p := 1
	for _, x := range v {
		p *= x
	}
	return p
}

func (r *reportRun) appendix(d *document) {
	s := d.section("A", "Appendix: every run")
	s.text("Each folder holds config.json (with the train command that reproduces it), history.csv, metrics.json, predictions.csv, model.safetensors, train.log and, for the main runs, figures/. " +
		"ablations.csv has every experiment's row.")
	tb := &table{Head: []string{"run", "folder", "epochs", "test accuracy", "weighted F1", "train time", "device", "status"},
		Num: []bool{false, false, true, true, true, true, false, false}, Flag: map[int]bool{}}
	for i, j := range r.jobs {
		rec := r.records[j.Dir]
		st := "ok"
		if why := rec.Diverged(); why != "" {
			st = "DIVERGED: " + why
			tb.Flag[i] = true
		}
		tb.Rows = append(tb.Rows, []string{j.Name, r.rel(j.Dir), strconv.Itoa(len(rec.History)), f4(rec.Metrics.Accuracy), f4(rec.Metrics.WeightedF1),
			duration(rec.Metrics.TrainSeconds), rec.Metrics.Device, st})
	}
	s.table(tb)
}

// seedComparison compares the main runs' accuracy with the seed's.
func (r *reportRun) seedComparison() string {
	mlp, cnn := r.main[model.TaskMLP].Metrics.Accuracy, r.main[model.TaskCNN].Metrics.Accuracy
	dm, dc := mlp-seedMain(model.TaskMLP)[0], cnn-seedMain(model.TaskCNN)[0]
	s := fmt.Sprintf("Main runs against the seed: task 1 %s (seed %s, %s), task 2 %s (seed %s, %s).",
		f4(mlp), f4(seedMain(model.TaskMLP)[0]), points(dm), f4(cnn), f4(seedMain(model.TaskCNN)[0]), points(dc))
	switch {
	case r.o.Quick:
		s += " This quick report trains on fewer images for fewer epochs than the seed did, so the comparison is only indicative."
	case dm > 0 && dc > 0:
		s += " Both are above the seed's. One likely reason: the seed's networks ended in a softmax layer before a softmax-based loss (its section 11), which flattens the gradients; these networks output logits and leave the softmax to the loss."
	case dm < 0 && dc < 0:
		s += " Both are below the seed's, at the same epochs and batch size."
	}
	return s
}

// plural writes "1 epoch", "2 epochs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
