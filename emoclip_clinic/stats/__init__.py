"""Statistics: agreement of predicted with rated symptom scores, and recognition metrics.

* :mod:`~emoclip_clinic.stats.agreement` - per-item MAE, RMSE, Pearson r, Lin's CCC, ICC(A,1),
  ICC(C,1) and Bland-Altman limits, with analytic and patient-bootstrap CIs
  (:func:`agreement_table`, :func:`item_agreement`).
* :mod:`~emoclip_clinic.stats.classification` - UAR, WAR, macro F1, one-vs-rest macro AUC and
  the confusion matrix of facial expression recognition (:func:`classification_metrics`).
* :mod:`~emoclip_clinic.stats.inference` - the closed-form intervals and tests.
* :mod:`~emoclip_clinic.stats.bootstrap` - cluster (patient/video) bootstrap, percentile and BCa.

Definitions, references and the implementations each metric is tested against are in
``docs/metrics.md``.
"""

from emoclip_clinic.stats.agreement import (
    STATISTICS,
    ItemAgreement,
    Statistic,
    agreement_table,
    item_agreement,
)
from emoclip_clinic.stats.bootstrap import BootstrapInterval, bootstrap_counts
from emoclip_clinic.stats.classification import (
    ClassificationMetrics,
    classification_metrics,
    macro_auc_ovr,
    wilson_interval,
)
from emoclip_clinic.stats.inference import (
    bland_altman_intervals,
    icc_intervals,
    lin_ccc_interval,
    pearson_inference,
)

__all__ = [
    "STATISTICS",
    "BootstrapInterval",
    "ClassificationMetrics",
    "ItemAgreement",
    "Statistic",
    "agreement_table",
    "bland_altman_intervals",
    "bootstrap_counts",
    "classification_metrics",
    "icc_intervals",
    "item_agreement",
    "lin_ccc_interval",
    "macro_auc_ovr",
    "pearson_inference",
    "wilson_interval",
]
