// Package eval computes what the report says about a trained classifier:
// accuracy, per-class precision, recall and F1 with their macro and weighted
// averages, the confusion matrix, one-vs-rest ROC curves with their areas
// (per class, micro- and macro-averaged), and a Barnes-Hut t-SNE embedding
// of feature vectors together with its quality measures (trustworthiness and
// nearest-neighbour class agreement).
//
// The package takes plain Go numbers (labels as []int, scores and features as
// float32 or float64 slices) and imports nothing else of mnistgpu but the
// kernels interface, for TSNEOn, which runs t-SNE on a GPU device. Its
// conventions follow scikit-learn's so that numbers can be compared with a
// PyTorch/scikit-learn reference run: zero divisions give 0, ROC curves keep
// one point per distinct threshold, areas use the trapezoid rule, and the
// t-SNE optimiser uses scikit-learn's schedule (early exaggeration 12 for 250
// iterations, momentum 0.5 then 0.8, delta-bar-delta gains, learning rate
// max(n/12/4, 50), PCA initialisation).
package eval
