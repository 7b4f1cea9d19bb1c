"""The latent model of the synthetic cohort: severities, behaviour and clinician ratings.

One shared negative-symptom factor drives every item; each item also has its own variation;
the rater adds noise. Only some items have a behaviour the camera can see. With ``p`` a patient
and ``j`` one of the patient's interviews (all variables standard normal unless stated)::

    F_pj  = sqrt(1 - a) F_p + sqrt(a) phi_pj        shared factor (a = factor_state_share)
    e_pjk = sqrt(1 - b) e_pk + sqrt(b) eta_pjk      domain-specific part (b = domain_state_share)
    d_pjk = l_k F_pj + sqrt(1 - l_k^2) e_pjk        severity of domain k (loading l_k)
    t_pji = sum_k w_ik d_pjk / norm_i               true severity of item i (unit variance)
    r_pji = clip(round(m_s + s_s (t_pji + r eps_pji) / sqrt(1 + r^2)), item range)
    b_pjq = low_q + (high_q - low_q) sigmoid(dir_q slope d_pjk(q))

``r_pji`` is the rated score (``m_s``, ``s_s``: mean and SD of scale ``s``; ``r``: rater noise),
``b_pjq`` behaviour parameter ``q``, driven by its domain ``k(q)``.

Domains ``face``, ``gesture``, ``speech`` and ``rapport`` have behaviours the recording shows
(expression episode rate and intensity; head-gesture amplitude and nod rate; talking fraction
and pause length; gaze and head aversion). ``withdrawal``, ``social``, ``voice``, ``abstract``
and ``stereotyped`` have none, so their items (N2, N4, N5, N7, vocal expression) relate to the
video only through the shared factor. Item weights ``w``: N1 blunted affect = face + gesture,
N3 poor rapport = rapport, N6 lack of spontaneity and CAINS quantity of speech = speech, CAINS
facial expression = face, expressive gestures = gesture; the others one unobservable domain each.

The oracle ceiling (:func:`oracle_ceiling`) is the Pearson correlation that the best linear
predictor of a rated item from the true behaviour parameters (on the link scale, which is linear
in the domain severities) reaches on a large simulated population: limited by rater noise and
rounding for observable items, by the shared factor for unobservable ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.scoring.scales import Scale, load_scale

SCALES = ("panss_negative", "cains_expression")
OBSERVABLE_DOMAINS = ("face", "gesture", "speech", "rapport")


@dataclass(frozen=True)
class BehaviourLink:
    """How one behaviour parameter follows the severity of its domain (a logistic curve)."""

    domain: str  # the domain whose severity drives it
    low: float  # value at the most favourable end
    high: float  # value at the least favourable end (for direction -1: at the healthy end)
    direction: int  # +1 rises with severity, -1 falls with severity


def _behaviours() -> dict[str, BehaviourLink]:
    return {
        "expression_rate_per_min": BehaviourLink("face", 0.8, 9.0, -1),  # expression episodes
        "expression_intensity": BehaviourLink("face", 0.3, 0.95, -1),  # mean apex intensity
        "gesture_amplitude": BehaviourLink("gesture", 0.2, 1.6, -1),  # head-motion scale
        "nod_rate_per_min": BehaviourLink("gesture", 0.5, 8.0, -1),  # nods while listening
        "talk_fraction": BehaviourLink("speech", 0.12, 0.75, -1),  # share of time talking
        "pause_s": BehaviourLink("speech", 0.3, 2.2, 1),  # mean pause between phrases
        "gaze_aversion": BehaviourLink("rapport", 0.05, 0.7, 1),  # share of glances away
        "head_aversion": BehaviourLink("rapport", 0.0, 0.4, 1),  # share of time head turned away
    }


def _loadings() -> dict[str, float]:
    # Loadings on the shared factor; abstract and stereotyped thinking load least, as in
    # factor analyses of the PANSS where N5/N7 go with a cognitive factor.
    return {
        "face": 0.8, "gesture": 0.7, "speech": 0.75, "rapport": 0.7, "withdrawal": 0.75,
        "social": 0.7, "voice": 0.75, "abstract": 0.45, "stereotyped": 0.4,
    }  # fmt: skip


def _item_domains() -> dict[str, dict[str, float]]:
    return {
        "N1": {"face": 0.85, "gesture": 0.5}, "N2": {"withdrawal": 1.0},
        "N3": {"rapport": 1.0}, "N4": {"social": 1.0}, "N5": {"abstract": 1.0},
        "N6": {"speech": 1.0}, "N7": {"stereotyped": 1.0},
        "facial_expression": {"face": 1.0}, "vocal_expression": {"voice": 1.0},
        "expressive_gestures": {"gesture": 1.0}, "quantity_of_speech": {"speech": 1.0},
    }  # fmt: skip


def _rating_centres() -> dict[str, tuple[float, float]]:
    # Mean and SD of the rated items in an outpatient schizophrenia sample (PANSS N items about
    # 3 +- 1.2; CAINS expression items about 1.6 +- 1.0).
    return {"panss_negative": (3.2, 1.2), "cains_expression": (1.6, 1.0)}


@dataclass(frozen=True)
class LatentModel:
    """Parameters of the cohort's latent model (see the module docstring for the equations)."""

    loadings: dict[str, float] = field(default_factory=_loadings)  # domain -> l_k
    factor_state_share: float = 0.15  # a: share of the factor that changes between interviews
    domain_state_share: float = 0.25  # b: same for the domain-specific parts
    rater_noise: float = 0.5  # r: SD of rater error in SDs of the true severity
    item_domains: dict[str, dict[str, float]] = field(default_factory=_item_domains)  # w_ik
    rating_centres: dict[str, tuple[float, float]] = field(default_factory=_rating_centres)
    behaviours: dict[str, BehaviourLink] = field(default_factory=_behaviours)  # links b_q
    slope: float = 1.3  # steepness of the behaviour links

    def __post_init__(self) -> None:
        problems = [f"loading of {k} must be in (-1, 1)" for k, v in self.loadings.items()
                    if not -1 < v < 1]  # fmt: skip
        if not (0 <= self.factor_state_share <= 1 and 0 <= self.domain_state_share <= 1):
            problems.append("state shares must be within 0..1")
        if self.rater_noise < 0 or self.slope <= 0:
            problems.append("rater_noise must be >= 0 and slope > 0")
        for item, weights in self.item_domains.items():
            unknown = set(weights) - set(self.loadings)
            if unknown or not weights:
                problems.append(f"item {item} has unknown or no domains {sorted(unknown)}")
        for name, link in self.behaviours.items():
            if link.domain not in self.loadings or link.direction not in (-1, 1):
                problems.append(f"behaviour {name} needs a known domain and direction +-1")
        if problems:
            raise ConfigError("invalid latent model: " + "; ".join(problems))

    @property
    def domains(self) -> tuple[str, ...]:
        """Domain names in a fixed order."""
        return tuple(self.loadings)

    def scale_items(self, scale: Scale) -> list[str]:
        """Item ids of a scale, checked against the model.

        Raises:
            ConfigError: an item of the scale has no domain weights in the model.
        """
        missing = [i for i in scale.item_ids if i not in self.item_domains]
        if missing or scale.name not in self.rating_centres:
            raise ConfigError(f"the latent model has no weights for {scale.name}: {missing}")
        return list(scale.item_ids)


@dataclass(frozen=True)
class Population:
    """Draws of the latent model for a set of interviews (rows)."""

    patient: np.ndarray  # (n,) patient index of each interview
    factor: np.ndarray  # (n,) shared factor F_pj
    domains: np.ndarray  # (n, K) domain severities d_pjk, columns as model.domains
    true: dict[str, np.ndarray]  # item id -> (n,) true severity t_pji
    rated: dict[str, np.ndarray]  # item id -> (n,) rated score (integers)
    behaviour: dict[str, np.ndarray]  # behaviour name -> (n,) parameter b_pjq


def _draw_domains(model: LatentModel, rng: np.random.Generator, patient: np.ndarray):
    n_patients, k = int(patient.max()) + 1, len(model.domains)
    a, b = model.factor_state_share, model.domain_state_share
    factor_p, specific_p = rng.standard_normal(n_patients), rng.standard_normal((n_patients, k))
    factor = math.sqrt(1 - a) * factor_p[patient] + math.sqrt(a) * rng.standard_normal(len(patient))
    specific = math.sqrt(1 - b) * specific_p[patient]
    specific = specific + math.sqrt(b) * rng.standard_normal((len(patient), k))
    load = np.asarray([model.loadings[d] for d in model.domains])
    return factor, factor[:, None] * load + np.sqrt(1 - load**2) * specific


def _true_severity(model: LatentModel, domains: np.ndarray, item: str) -> np.ndarray:
    """Weighted sum of domain severities, scaled to unit variance."""
    load = np.asarray([model.loadings[d] for d in model.domains])
    w = np.asarray([model.item_domains[item].get(d, 0.0) for d in model.domains])
    cov = np.outer(load, load)
    np.fill_diagonal(cov, 1.0)
    return domains @ w / math.sqrt(float(w @ cov @ w))


def behaviour_values(model: LatentModel, domains: np.ndarray) -> dict[str, np.ndarray]:
    """Behaviour parameters from domain severities (the logistic links)."""
    out = {}
    for name, link in model.behaviours.items():
        d = domains[:, model.domains.index(link.domain)]
        out[name] = link.low + (link.high - link.low) / (
            1 + np.exp(-link.direction * model.slope * d)
        )
    return out


def behaviour_features(model: LatentModel, behaviour: dict[str, np.ndarray]) -> np.ndarray:
    """Behaviours on the link scale (logit of their position in the range): the oracle inputs."""
    columns = []
    for name, link in model.behaviours.items():
        share = np.clip((behaviour[name] - link.low) / (link.high - link.low), 1e-9, 1 - 1e-9)
        columns.append(link.direction * np.log(share / (1 - share)) / model.slope)
    return np.stack(columns, axis=1)


def simulate(model: LatentModel, rng: np.random.Generator, patient: np.ndarray) -> Population:
    """Draw severities, behaviour and ratings for interviews of the given patients.

    Args:
        model: the latent model.
        rng: random generator.
        patient: patient index (0..P-1) of each interview; interviews of one patient share the
            patient-level parts of the factor and of the domains.
    """
    factor, domains = _draw_domains(model, rng, np.asarray(patient))
    true, rated = {}, {}
    for scale_name in SCALES:
        scale = load_scale(scale_name)
        mean, sd = model.rating_centres[scale_name]
        noise_sd = model.rater_noise
        model.scale_items(scale)
        for item in scale.items:
            t = _true_severity(model, domains, item.id)
            noisy = (t + noise_sd * rng.standard_normal(len(t))) / math.sqrt(1 + noise_sd**2)
            true[item.id] = t
            rated[item.id] = np.clip(np.rint(mean + sd * noisy), item.min, item.max).astype(int)
    behaviour = behaviour_values(model, domains)
    return Population(np.asarray(patient), factor, domains, true, rated, behaviour)


@dataclass(frozen=True)
class Cohort:
    """A sampled cohort: ids of patients and interviews and their draws of the latent model."""

    patient_ids: list[str]  # patient of each interview, e.g. "P001"
    interview_ids: list[str]  # e.g. "P001_I2"
    population: Population  # one row per interview


def sample_cohort(
    model: LatentModel,
    rng: np.random.Generator,
    n_patients: int,
    interviews_per_patient: tuple[int, int] = (1, 3),
) -> Cohort:
    """Draw a cohort: patients with 1..k interviews each, their severities and ratings.

    Raises:
        ConfigError: fewer than one patient or a bad interview range.
    """
    low, high = interviews_per_patient
    if n_patients < 1:
        raise ConfigError(f"n_patients must be >= 1, got {n_patients}")
    if not 1 <= low <= high:
        raise ConfigError(
            f"interviews per patient must satisfy 1 <= low <= high, got {low}, {high}"
        )
    counts = rng.integers(low, high + 1, n_patients)
    patient = np.repeat(np.arange(n_patients), counts)
    width = max(3, len(str(n_patients)))
    patient_ids = [f"P{p + 1:0{width}d}" for p in patient]
    visit = np.concatenate([np.arange(1, c + 1) for c in counts])
    interview_ids = [f"{pid}_I{v}" for pid, v in zip(patient_ids, visit, strict=True)]
    return Cohort(patient_ids, interview_ids, simulate(model, rng, patient))


@dataclass(frozen=True)
class Ceiling:
    """Oracle agreement per item and total, from a large simulated population."""

    oracle: dict[str, dict[str, float]]  # scale -> item/total -> PCC from true behaviour
    rater_bound: dict[str, dict[str, float]]  # scale -> item/total -> PCC from true severity
    observable: dict[str, dict[str, bool]]  # scale -> item -> has a behaviour in the video
    n_simulated: int  # size of the simulated population
    seed: int  # its seed


def _pcc(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def oracle_ceiling(model: LatentModel | None = None, n: int = 100_000, seed: int = 0) -> Ceiling:
    """PCC an oracle reaches from the true behaviour parameters, per item and scale total.

    The best linear predictor of each rated item (and total) from the behaviour parameters on
    the link scale is fitted on one half of a simulated population and its PCC with the rating
    measured on the other half. ``rater_bound`` is the PCC of the rating with the item's true
    severity (what rater noise and rounding allow at best).

    Args:
        model: the latent model (defaults when None).
        n: simulated interviews (one per patient).
        seed: seed of the simulation; fixed by default so the ceiling is a property of the model.

    Raises:
        ConfigError: ``n`` < 1000.
    """
    model = model or LatentModel()
    if n < 1000:
        raise ConfigError(f"the ceiling needs n >= 1000 simulated interviews, got {n}")
    pop = simulate(model, np.random.default_rng([seed, 5]), np.arange(n))
    features = behaviour_features(model, pop.behaviour)
    design = np.column_stack([np.ones(n), features])
    half = n // 2
    observable_domains = {link.domain for link in model.behaviours.values()}
    oracle, bound, observable = {}, {}, {}
    for scale_name in SCALES:
        scale = load_scale(scale_name)
        ids = model.scale_items(scale)
        targets = {i: (pop.rated[i], pop.true[i]) for i in ids}
        targets[scale.total.id] = (sum(pop.rated[i] for i in ids), sum(pop.true[i] for i in ids))
        rated = np.column_stack([r for r, _ in targets.values()]).astype(float)
        beta = np.linalg.lstsq(design[:half], rated[:half], rcond=None)[0]
        predicted = design[half:] @ beta
        oracle[scale_name], bound[scale_name] = {}, {}
        for k, (name, (rating, true)) in enumerate(targets.items()):
            oracle[scale_name][name] = round(_pcc(predicted[:, k], rating[half:]), 4)
            bound[scale_name][name] = round(_pcc(true, rating), 4)
        observable[scale_name] = {
            i: bool(set(model.item_domains[i]) & observable_domains) for i in ids
        }
    return Ceiling(oracle, bound, observable, n, seed)
