"""The seed article's numbers and claims, as data, each with where it says so.

Source: "LSTM 与 GRU 门控机制对比:3 种变体在 PyTorch 中的参数量与收敛速度实测"
(``shared/seed/article.txt``). Only the article's own figures are here; everything the report
says about them is computed from :mod:`rnnbench.params` and the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

ARTICLE = "shared/seed/article.txt"


@dataclass(frozen=True)
class Quoted:
    """A number as the article prints it, and where."""

    value: float
    text: str
    where: str


@dataclass(frozen=True)
class ImdbRow:
    """One row of the article's IMDB table (§3.2); ``params`` is rounded to 0.1M there."""

    params: Quoted
    seconds_per_epoch: float
    best_accuracy: float
    converged_epoch: int


#: §1.3 table "以hidden_size=128为例计算单层参数量": formula and example value per cell.
PER_LAYER_TABLE: dict[str, Quoted] = {
    "lstm": Quoted(131_072, "4×(input+hidden)×hidden = 131,072", "§1.3 table"),
    "gru": Quoted(98_304, "3×(input+hidden)×hidden = 98,304", "§1.3 table"),
}
#: The gate count each formula in that table multiplies by.
PER_LAYER_GATES: dict[str, int] = {"lstm": 4, "gru": 3}
PER_LAYER_HIDDEN = 128

#: §1.3 code: ``nn.LSTM(input_size=256, hidden_size=128)`` printed as 197,632, GRU 148,224.
MODULE_INPUT, MODULE_HIDDEN = 256, 128
MODULE_TOTALS: dict[str, Quoted] = {
    "lstm": Quoted(197_632, "nn.LSTM(256, 128) → 197,632", "§1.3 code output"),
    "gru": Quoted(148_224, "nn.GRU(256, 128) → 148,224", "§1.3 code output"),
}

#: §3.1 training configuration shared by every model of the IMDB table.
IMDB_EMBED_DIM = 256
IMDB_HIDDEN = 128
IMDB_LAYERS = 2
IMDB_CLASSES = 2
IMDB_DROPOUT = 0.5
IMDB_EPOCHS = 20
IMDB_BATCH = 64

#: §3.2 table "在IMDB数据集上的测试结果".
IMDB_TABLE: dict[str, ImdbRow] = {
    "lstm": ImdbRow(Quoted(2.1e6, "2.1M", "§3.2 table"), 142, 0.872, 12),
    "bilstm": ImdbRow(Quoted(4.2e6, "4.2M", "§3.2 table"), 210, 0.885, 15),
    "gru": ImdbRow(Quoted(1.6e6, "1.6M", "§3.2 table"), 118, 0.868, 10),
}
#: The article prints totals to one decimal of a million: the true value is within this.
IMDB_PARAMS_ROUNDING = 0.05e6

#: §4 selection guide, verbatim in translation.
GUIDE_LSTM = (
    "tasks that need fine control over what is remembered (e.g. machine translation)",
    "plenty of training resources and data",
    "long-range dependencies in the sequence",
)
GUIDE_GRU = (
    "fast prototyping",
    "resource-limited settings such as mobile",
    "moderate sequence length (< 100)",
)
GUIDE_BIDIRECTIONAL = (
    "context matters (e.g. text classification)",
    "you can accept 2× or more compute",
)
#: §4: the bidirectional cost the guide asks the reader to accept.
BIDIRECTIONAL_COST = 2.0
#: §4: the sequence length below which the guide recommends GRU.
GRU_MODERATE_LENGTH = 100
