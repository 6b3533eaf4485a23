"""scikit-learn tree ensembles → emlearn's tree format (CSV for the board, C header).

emlearn stores thresholds as int16 and tests `feature < threshold`, taking
the integer part of sklearn's float threshold. sklearn tests
`feature <= threshold`; for integer features the two disagree whenever a
non-negative threshold falls between two integers (int(3.5) = 3 sends x = 3
right, sklearn sends it left). We rewrite each threshold t to floor(t) + 1
before emlearn sees it: for integer x, `x <= t` is exactly `x < floor(t) + 1`,
so emlearn's C, the CSV and our evaluator split integer features as sklearn
does. The price is emlearn's own: features must be integers in int16 range
(scale them before training). A model trained on fractional features has
thresholds that no integer midpoint explains; they are still rewritten, and
counted, so the command can say so (and, given data, what it changes).

The size is checked from the fitted trees before emlearn sees them: emlearn
validates the whole forest after each tree it adds, so an oversized forest
would otherwise run for many minutes, and gigabytes, before being refused.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConversionError

SUPPORTED = ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")
INT16_MIN, INT16_MAX = -32768, 32767
# emlearn's loadable C and emlearn-micropython take at most this many features (int8 index).
MAX_FEATURES = 127
# The board's evaluator (edgeloop_fw/trees.py) holds node indices and child offsets as int16.
MAX_NODES = 32767


@dataclass
class TreeModel:
    """A converted ensemble: what the board needs, and the facts a user wants to see."""

    wrapper: object  # emlearn.trees.Wrapper with integer thresholds
    kind: str
    n_features: int
    n_classes: int
    n_trees: int
    n_nodes: int
    n_leaves: int
    leaf_bits: int
    classes: list
    fit: tuple = ()  # lines saying how the model fits a board, when one was checked
    rounded: int = 0  # thresholds that lie between integers: the features were not integers in training
    rounded_features: tuple = ()  # the features those thresholds test

    def csv(self) -> str:
        return self.wrapper.save(name="model", format="csv")

    def c_header(self, name: str) -> str:
        return self.wrapper.save(name=name, format="c")


def load_estimator(path: Path):
    """Read a pickled or joblib-dumped estimator.

    Unpickling runs code from the file: only convert models you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        import joblib

        return joblib.load(path)
    except Exception as joblib_error:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:
            raise ConversionError(
                f"{path}: not a pickle or joblib file ({type(joblib_error).__name__}: {joblib_error}); "
                "save the model with joblib.dump(model, 'model.pkl')") from None


def _emlearn():
    import numpy as np

    saved = np.geterr()
    import emlearn  # sets numpy.seterr(all='raise') process-wide on import

    np.seterr(**saved)
    return emlearn


def check_estimator(estimator) -> str:
    """The estimator's class name, once it is known to be a fitted single-output tree classifier."""
    kind = type(estimator).__name__
    if kind not in SUPPORTED:
        raise ConversionError(
            f"{kind} is not supported by the tree converter; use one of {', '.join(SUPPORTED)}")
    if not hasattr(estimator, "n_features_in_"):
        raise ConversionError(f"the {kind} is not fitted; call fit() before saving it")
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise ConversionError(f"the {kind} has {estimator.n_outputs_} outputs; the board format takes one")
    if estimator.n_features_in_ > MAX_FEATURES:
        raise ConversionError(
            f"the {kind} takes {estimator.n_features_in_} features; emlearn's format takes at most {MAX_FEATURES}")
    return kind


def trees_of(estimator) -> list:
    """The fitted sklearn trees (`tree_` objects) of a single tree or an ensemble."""
    return [e.tree_ for e in getattr(estimator, "estimators_", [estimator])]


def count_nodes(estimator) -> int:
    """Decision nodes emlearn will emit: every split, and one stand-in for a tree that is a lone leaf."""
    return sum(max(1, int((t.children_left >= 0).sum())) for t in trees_of(estimator))


def check_size(estimator, *, max_nodes: int = MAX_NODES, board: str | None = None) -> int:
    """Refuse a model too big for the format, `max_nodes` or the board's heap, from the
    fitted trees alone (nothing converted yet); returns the number of decision nodes."""
    kind = check_estimator(estimator)
    n_trees, n_nodes = len(trees_of(estimator)), count_nodes(estimator)
    fix = "use fewer trees (n_estimators) or shallower ones (max_depth, min_samples_leaf) and retrain"
    limit = min(max_nodes, MAX_NODES)
    if n_nodes > limit:
        whose = "the board's model format holds" if limit == MAX_NODES else "--max-nodes allows"
        raise ConversionError(f"the {kind} has {n_trees} trees with {n_nodes:,} decision nodes; "
                              f"{whose} at most {limit:,}: {fix}")
    if board:
        from edgeloop.boards import profiles as boards

        profile = boards.load(board)
        heap = heap_estimate(n_nodes, len(estimator.classes_), n_trees)
        if heap > profile.heap_bytes:
            raise ConversionError(f"the {kind} has {n_trees} trees with {n_nodes:,} decision nodes, about {heap:,} "
                                  f"bytes of heap, but {board} leaves {profile.heap_bytes:,}: {fix}")
    return n_nodes


def convert_estimator(estimator) -> TreeModel:
    """Convert a fitted sklearn tree classifier for the board.

    Leaves hold a class and a forest votes by majority (emlearn's leaf_bits=0,
    the format emlearn-micropython reads); sklearn averages probabilities
    instead, so a forest can disagree with sklearn on close votes. The
    conversion summary reports that agreement when given data.
    """
    kind = check_estimator(estimator)
    emlearn = _emlearn()
    wrapper = emlearn.convert(estimator, method="loadable", dtype="int16_t", leaf_bits=0)
    nodes, roots, leaves = wrapper.forest_
    rounded, rounded_features = 0, set()
    for node in nodes:
        t = float(node[1])
        if 2 * t != math.floor(2 * t):  # not a midpoint of two integers
            rounded += 1
            rounded_features.add(int(node[0]))
        fixed = math.floor(t) + 1
        if not INT16_MIN <= fixed <= INT16_MAX:
            raise ConversionError(
                f"a split on feature {node[0]} has threshold {t:g}, outside int16; "
                "the board compares int16 features: scale the features into -32768..32767 and retrain")
        node[1] = _Int(fixed)
    return TreeModel(
        wrapper=wrapper, kind=kind, n_features=wrapper.n_features, n_classes=wrapper.n_classes,
        n_trees=len(roots), n_nodes=len(nodes), n_leaves=len(leaves), leaf_bits=wrapper.leaf_bits,
        classes=[c.item() if hasattr(c, "item") else c for c in estimator.classes_],
        rounded=rounded, rounded_features=tuple(sorted(rounded_features)),
    )


class _Int(int):
    """An int that survives emlearn's `value.round(6)` in its CSV writer."""

    def round(self, ndigits=None):
        return self


def convert_file(path: Path, out: Path, *, c_header: Path | None = None, board: str | None = None,
                 max_nodes: int = MAX_NODES, step: Callable[[str], None] | None = None,
                 check: Callable[[object, TreeModel], None] | None = None) -> TreeModel:
    """Convert a saved model; write the CSV (and optionally a C header) atomically.

    The size is checked before converting, and with a board the fit before
    anything is written. `step(what)` is told each stage as it starts (they
    can take minutes on big forests); `check(estimator, model)` runs last
    before writing, so a refusal there (validation) leaves no file behind.
    """
    from ..atomic import write_text_atomic

    step = step or (lambda what: None)
    step(f"loading {Path(path).name}")
    estimator = load_estimator(path)
    n_nodes = check_size(estimator, max_nodes=max_nodes, board=board)
    step(f"converting {len(trees_of(estimator))} trees ({n_nodes:,} nodes)")
    model = convert_estimator(estimator)
    csv = model.csv()
    if board:
        model.fit = tuple(check_fit(len(csv.encode()), model, board))
    if check is not None:
        check(estimator, model)
    step(f"writing {Path(out).name}")
    write_text_atomic(Path(out), csv)
    if c_header is not None:
        name = "".join(ch if ch.isalnum() else "_" for ch in Path(c_header).stem) or "model"
        write_text_atomic(Path(c_header), model.c_header(name))
    return model


def board_cost(model: TreeModel) -> int:
    return heap_estimate(model.n_nodes, model.n_leaves, model.n_trees)


def heap_estimate(n_nodes: int, n_leaves: int, n_trees: int) -> int:
    """Heap the pure-Python evaluator holds: 7 bytes a node, 1 a leaf, 2 a root (arrays), plus objects."""
    return 7 * n_nodes + n_leaves + 2 * n_trees + 1024


def check_fit(file_bytes: int, model: TreeModel, board: str) -> list[str]:
    from edgeloop.boards import profiles as boards

    profile = boards.load(board)
    heap = board_cost(model)
    if file_bytes > profile.fs_bytes:
        raise ConversionError(f"the model file needs {file_bytes} bytes but {board} has a {profile.fs_bytes}-byte "
                              "filesystem; use fewer or shallower trees")
    if heap > profile.heap_bytes:
        raise ConversionError(f"the trees need about {heap} bytes of heap but {board} leaves {profile.heap_bytes}; "
                              "use fewer or shallower trees")
    return [f"file {file_bytes} of {profile.fs_bytes} bytes", f"heap about {heap} of {profile.heap_bytes} bytes"]
