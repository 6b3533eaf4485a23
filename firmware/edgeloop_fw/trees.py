"""Decision-tree ensembles in emlearn's CSV format, evaluated in pure Python.

Runs on MicroPython, CircuitPython and CPython. When the board has
emlearn-micropython's native `emlearn_trees` module, `load()` uses it (same
file, same answers, native speed); otherwise this evaluator walks the trees
with the arithmetic of emlearn's C: int16 features, `feature < threshold`,
relative child offsets, majority vote with the lowest class winning ties.
"""

from array import array

try:
    import emlearn_trees as _native
except ImportError:
    _native = None


class TreeError(ValueError):
    pass


class Trees:
    """The forest as flat arrays: 7 bytes per node, 1 per leaf, no objects per node."""

    def __init__(self, n_features, n_classes, feature, threshold, left, right, roots, leaves):
        self.n_features, self.n_classes = n_features, n_classes
        # one node per index: the feature it tests, the threshold, the two children
        self.feature, self.threshold, self.left, self.right = feature, threshold, left, right
        self.roots, self.leaves = roots, leaves
        self.n_trees = len(roots)
        self.votes = array("H", bytes(2 * n_classes))

    def leaf(self, root, x):
        """The leaf index one tree reaches for features x."""
        feature = self.feature
        threshold = self.threshold
        left = self.left
        right = self.right
        i = root
        while i >= 0:
            child = left[i] if x[feature[i]] < threshold[i] else right[i]
            i = i + child if child >= 0 else child
        return -i - 1

    def predict_votes(self, x):
        """Votes per class, in a buffer reused between calls."""
        if len(x) != self.n_features:
            raise TreeError("expected %d features, got %d" % (self.n_features, len(x)))
        votes = self.votes
        for c in range(self.n_classes):
            votes[c] = 0
        leaves = self.leaves
        for root in self.roots:
            votes[leaves[self.leaf(root, x)]] += 1
        return votes

    def predict(self, x):
        return _argmax(self.predict_votes(x), self.n_classes)


def _argmax(scores, n):
    """The first class with the highest positive score, or -1 when none is positive."""
    best = -1
    top = 0
    for c in range(n):
        if scores[c] > top:
            best = c
            top = scores[c]
    return best


def parse(lines):
    """Build Trees from an iterable of CSV lines (str); rejects unknown records."""
    n_features = n_classes = None
    feature = array("b")
    threshold = array("h")
    left = array("h")
    right = array("h")
    roots = array("h")
    leaves = bytearray()
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split(",")
        tag = parts[0]
        try:
            if tag == "n":
                feature.append(int(parts[1]))
                threshold.append(int(float(parts[2])))
                left.append(int(parts[3]))
                right.append(int(parts[4]))
            elif tag == "l":
                leaves.append(int(parts[1]))
            elif tag == "r":
                roots.append(int(parts[1]))
            elif tag == "f":
                n_features = int(parts[1])
            elif tag == "c":
                n_classes = int(parts[1])
            elif tag == "lb":
                if int(parts[1]) != 0:
                    raise TreeError("line %d: leaf_bits %s is not supported; convert with majority voting (0)"
                                    % (number, parts[1]))
            else:
                raise TreeError("line %d: unknown record %r" % (number, tag))
        except (IndexError, OverflowError) as e:
            raise TreeError("line %d: malformed record %r (%s)" % (number, line, e))
    if n_features is None or n_classes is None or not roots or not feature:
        raise TreeError("incomplete model: needs f, c, r and n records")
    for c in leaves:
        if c >= n_classes:
            raise TreeError("leaf class %d out of range for %d classes" % (c, n_classes))
    for i in range(len(feature)):
        if not 0 <= feature[i] < n_features:
            raise TreeError("node %d uses feature %d of %d" % (i, feature[i], n_features))
        for child in (left[i], right[i]):
            if (child >= 0 and i + child >= len(feature)) or (child < 0 and -child - 1 >= len(leaves)):
                raise TreeError("node %d points outside the model" % i)
            if child == 0:
                raise TreeError("node %d points at itself" % i)
    return Trees(n_features, n_classes, feature, threshold, left, right, roots, leaves)


class NativeTrees:
    """emlearn-micropython's module behind the same predict() as Trees.

    Its predict() fills per-class scores (vote shares for majority-vote
    models); the argmax with the lowest class winning ties is emlearn's C.
    """

    def __init__(self, path, n_features, n_classes, n_trees, n_nodes, n_leaves):
        self.n_features = n_features
        self.n_classes = n_classes
        self.model = _native.new(n_trees, n_nodes, n_leaves)
        with open(path) as f:
            _native.load_model(self.model, f)
        self.n_trees = n_trees
        self.out = array("f", bytes(4 * n_classes))
        self.x = array("h", bytes(2 * n_features))
        self.votes = array("H", bytes(2 * n_classes))

    def predict_votes(self, x):
        """Votes per class (the module gives vote shares), in a buffer reused between calls."""
        self.predict(x)
        for c in range(self.n_classes):
            self.votes[c] = int(self.out[c] * self.n_trees + 0.5)
        return self.votes

    def predict(self, x):
        if len(x) != self.n_features:
            raise TreeError("expected %d features, got %d" % (self.n_features, len(x)))
        buf = self.x
        for i in range(self.n_features):
            buf[i] = x[i]
        out = self.out
        self.model.predict(buf, out)
        return _argmax(out, self.n_classes)


def load(path, native=True):
    """Load a model file: the native module when the board has it, else the evaluator.

    The file is always parsed here first, so a corrupt model is refused the
    same way on every board and the native module gets its sizes.
    """
    with open(path) as f:
        trees = parse(f)
    if native and _native is not None:
        return NativeTrees(path, trees.n_features, trees.n_classes, len(trees.roots),
                           len(trees.feature), len(trees.leaves))
    return trees
