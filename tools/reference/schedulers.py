#!/usr/bin/env python3
"""Reference values for src/server/synthesis/schedulers (numpy only; torch and diffusers are not needed).

Each scheduler below is transcribed from the diffusers source, not from our TypeScript:
  huggingface/diffusers src/diffusers/schedulers/scheduling_pndm.py
                        src/diffusers/schedulers/scheduling_ddim.py
                        src/diffusers/schedulers/scheduling_euler_discrete.py
                        src/diffusers/schedulers/scheduling_euler_ancestral_discrete.py
diffusers keeps its tables (betas, alphas_cumprod, sigmas, Euler timesteps) as float32 torch tensors;
this script rounds them to float32 the same way. Step arithmetic runs in float64 and the sample is
stored back as float32 after each step, as the pipeline's latents are.

Regenerate (writes tests/fixtures/schedulers/*.json):
    python3 tools/reference/schedulers.py
"""

import json
import math
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "schedulers"

# stabilityai/stable-diffusion-2-1-base scheduler/scheduler_config.json (no timestep_spacing key).
SD21_BASE = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# stabilityai/sd-turbo scheduler/scheduler_config.json
SD_TURBO = {
    "_class_name": "EulerDiscreteScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "sigma_max": None,
    "sigma_min": None,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "timestep_type": "discrete",
    "trained_betas": None,
    "use_karras_sigmas": False,
}

F32 = np.float32


def f32(x):
    return np.asarray(x, dtype=np.float32)


# ---------------------------------------------------------------- training noise schedule


def betas_for_alpha_bar(n, max_beta=0.999):
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return f32([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta) for i in range(n)])


def betas(cfg):
    n = cfg.get("num_train_timesteps", 1000)
    if cfg.get("trained_betas") is not None:
        return f32(cfg["trained_betas"])
    schedule = cfg.get("beta_schedule", "linear")
    start, end = cfg.get("beta_start", 0.0001), cfg.get("beta_end", 0.02)
    if schedule == "linear":
        # torch.linspace(beta_start, beta_end, n, dtype=float32)
        return f32(np.linspace(float(F32(start)), float(F32(end)), n))
    if schedule == "scaled_linear":
        # torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=float32) ** 2
        lin = f32(np.linspace(float(F32(start**0.5)), float(F32(end**0.5)), n))
        return lin * lin
    if schedule == "squaredcos_cap_v2":
        return betas_for_alpha_bar(n)
    raise ValueError(schedule)


def alphas_cumprod(cfg):
    alphas = F32(1.0) - betas(cfg)
    # torch's CPU cumprod accumulates float32 inputs in double and stores float32
    return f32(np.cumprod(alphas.astype(np.float64)))


def train_sigmas(ac):
    # ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5 on a float32 tensor
    return np.sqrt((F32(1.0) - ac) / ac).astype(np.float32)


# ---------------------------------------------------------------- PNDM (scheduling_pndm.py)


class PNDM:
    def __init__(self, cfg, steps):
        self.cfg = cfg
        self.N = cfg.get("num_train_timesteps", 1000)
        self.ac = alphas_cumprod(cfg)
        self.final_alpha_cumprod = F32(1.0) if cfg.get("set_alpha_to_one", False) else self.ac[0]
        self.skip_prk_steps = cfg.get("skip_prk_steps", False)
        self.prediction_type = cfg.get("prediction_type", "epsilon")
        self.pndm_order = 4
        self.set_timesteps(steps)

    def set_timesteps(self, n):
        N = self.N
        self.num_inference_steps = n
        spacing = self.cfg.get("timestep_spacing") or "leading"
        if spacing == "linspace":
            ts = np.linspace(0, N - 1, n).round().astype(np.int64)
        elif spacing == "leading":
            step_ratio = N // n
            ts = (np.arange(0, n) * step_ratio).round()
            ts += self.cfg.get("steps_offset", 0)
        elif spacing == "trailing":
            step_ratio = N / n
            ts = np.round(np.arange(N, 0, -step_ratio))[::-1].astype(np.int64)
            ts -= 1
        else:
            raise ValueError(spacing)
        self._timesteps = ts
        if self.skip_prk_steps:
            self.prk_timesteps = np.array([])
            self.plms_timesteps = np.concatenate([ts[:-1], ts[-2:-1], ts[-1:]])[::-1].copy()
        else:
            prk = np.array(ts[-self.pndm_order :]).repeat(2) + np.tile(np.array([0, N // n // 2]), self.pndm_order)
            self.prk_timesteps = (prk[:-1].repeat(2)[1:-1])[::-1].copy()
            self.plms_timesteps = ts[:-3][::-1].copy()
        self.timesteps = np.concatenate([self.prk_timesteps, self.plms_timesteps]).astype(np.int64)
        self.ets = []
        self.counter = 0
        self.cur_model_output = 0
        self.cur_sample = None

    init_noise_sigma = 1.0

    def scale_model_input(self, sample, t):
        return sample

    def step(self, model_output, timestep, sample):
        if self.counter < len(self.prk_timesteps) and not self.skip_prk_steps:
            return self.step_prk(model_output, timestep, sample)
        return self.step_plms(model_output, timestep, sample)

    def step_prk(self, model_output, timestep, sample):
        diff_to_prev = 0 if self.counter % 2 else self.N // self.num_inference_steps // 2
        prev_timestep = timestep - diff_to_prev
        timestep = int(self.prk_timesteps[self.counter // 4 * 4])
        if self.counter % 4 == 0:
            self.cur_model_output += 1 / 6 * model_output
            self.ets.append(model_output)
            self.cur_sample = sample
        elif (self.counter - 1) % 4 == 0:
            self.cur_model_output += 1 / 3 * model_output
        elif (self.counter - 2) % 4 == 0:
            self.cur_model_output += 1 / 3 * model_output
        elif (self.counter - 3) % 4 == 0:
            model_output = self.cur_model_output + 1 / 6 * model_output
            self.cur_model_output = 0
        cur_sample = self.cur_sample if self.cur_sample is not None else sample
        prev = self._get_prev_sample(cur_sample, timestep, prev_timestep, model_output)
        self.counter += 1
        return prev

    def step_plms(self, model_output, timestep, sample):
        if not self.skip_prk_steps and len(self.ets) < 3:
            raise ValueError("plms before prk")
        prev_timestep = timestep - self.N // self.num_inference_steps
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(model_output)
        else:
            prev_timestep = timestep
            timestep = timestep + self.N // self.num_inference_steps
        if len(self.ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(self.ets) == 1 and self.counter == 1:
            model_output = (model_output + self.ets[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(self.ets) == 2:
            model_output = (3 * self.ets[-1] - self.ets[-2]) / 2
        elif len(self.ets) == 3:
            model_output = (23 * self.ets[-1] - 16 * self.ets[-2] + 5 * self.ets[-3]) / 12
        else:
            model_output = (1 / 24) * (55 * self.ets[-1] - 59 * self.ets[-2] + 37 * self.ets[-3] - 9 * self.ets[-4])
        prev = self._get_prev_sample(sample, timestep, prev_timestep, model_output)
        self.counter += 1
        return prev

    def _get_prev_sample(self, sample, timestep, prev_timestep, model_output):
        a_t = float(self.ac[timestep])
        a_prev = float(self.ac[prev_timestep]) if prev_timestep >= 0 else float(self.final_alpha_cumprod)
        b_t = 1 - a_t
        b_prev = 1 - a_prev
        if self.prediction_type == "v_prediction":
            model_output = (a_t**0.5) * model_output + (b_t**0.5) * sample
        elif self.prediction_type != "epsilon":
            raise ValueError(self.prediction_type)
        sample_coeff = (a_prev / a_t) ** 0.5
        denom = a_t * b_prev**0.5 + (a_t * b_t * a_prev) ** 0.5
        return sample_coeff * sample - (a_prev - a_t) * model_output / denom


# ---------------------------------------------------------------- DDIM (scheduling_ddim.py)


class DDIM:
    def __init__(self, cfg, steps, eta=0.0):
        self.cfg = cfg
        self.N = cfg.get("num_train_timesteps", 1000)
        self.ac = alphas_cumprod(cfg)
        self.final_alpha_cumprod = F32(1.0) if cfg.get("set_alpha_to_one", True) else self.ac[0]
        self.prediction_type = cfg.get("prediction_type", "epsilon")
        self.clip_sample = cfg.get("clip_sample", True)
        self.clip_sample_range = cfg.get("clip_sample_range", 1.0)
        self.eta = eta
        self.set_timesteps(steps)

    init_noise_sigma = 1.0

    def set_timesteps(self, n):
        N = self.N
        self.num_inference_steps = n
        spacing = self.cfg.get("timestep_spacing") or "leading"
        if spacing == "linspace":
            ts = np.linspace(0, N - 1, n).round()[::-1].copy().astype(np.int64)
        elif spacing == "leading":
            step_ratio = N // n
            ts = (np.arange(0, n) * step_ratio).round()[::-1].copy().astype(np.int64)
            ts += self.cfg.get("steps_offset", 0)
        elif spacing == "trailing":
            step_ratio = N / n
            ts = np.round(np.arange(N, 0, -step_ratio)).astype(np.int64)
            ts -= 1
        else:
            raise ValueError(spacing)
        self.timesteps = ts

    def scale_model_input(self, sample, t):
        return sample

    def step(self, model_output, timestep, sample, noise=None):
        prev_timestep = timestep - self.N // self.num_inference_steps
        a_t = float(self.ac[timestep])
        a_prev = float(self.ac[prev_timestep]) if prev_timestep >= 0 else float(self.final_alpha_cumprod)
        b_t = 1 - a_t
        if self.prediction_type == "epsilon":
            x0 = (sample - b_t**0.5 * model_output) / a_t**0.5
            eps = model_output
        elif self.prediction_type == "sample":
            x0 = model_output
            eps = (sample - a_t**0.5 * x0) / b_t**0.5
        elif self.prediction_type == "v_prediction":
            x0 = (a_t**0.5) * sample - (b_t**0.5) * model_output
            eps = (a_t**0.5) * model_output + (b_t**0.5) * sample
        else:
            raise ValueError(self.prediction_type)
        if self.clip_sample:
            x0 = np.clip(x0, -self.clip_sample_range, self.clip_sample_range)
        b_prev = 1 - a_prev
        variance = (b_prev / b_t) * (1 - a_t / a_prev)
        std_dev_t = self.eta * variance**0.5
        direction = (1 - a_prev - std_dev_t**2) ** 0.5 * eps
        prev = a_prev**0.5 * x0 + direction
        if self.eta > 0:
            prev = prev + std_dev_t * noise
        return prev


# ---------------------------------------------------------------- Euler (scheduling_euler_discrete.py,
#                                                                   scheduling_euler_ancestral_discrete.py)


class EulerBase:
    default_spacing = "linspace"

    def __init__(self, cfg, steps):
        self.cfg = cfg
        self.N = cfg.get("num_train_timesteps", 1000)
        self.ac = alphas_cumprod(cfg)
        self.prediction_type = cfg.get("prediction_type", "epsilon")
        self.spacing = cfg.get("timestep_spacing") or self.default_spacing
        self.set_timesteps(steps)

    def spaced_timesteps(self, n):
        N = self.N
        if self.spacing == "linspace":
            return np.linspace(0, N - 1, n, dtype=np.float32)[::-1].copy()
        if self.spacing == "leading":
            step_ratio = N // n
            ts = (np.arange(0, n) * step_ratio).round()[::-1].copy().astype(np.float32)
            ts += self.cfg.get("steps_offset", 0)
            return ts
        if self.spacing == "trailing":
            step_ratio = N / n
            ts = (np.arange(N, 0, -step_ratio)).round().copy().astype(np.float32)
            ts -= 1
            return ts
        raise ValueError(self.spacing)

    def set_timesteps(self, n):
        self.num_inference_steps = n
        ts = self.spaced_timesteps(n)
        sig = train_sigmas(self.ac)
        sigmas = np.interp(ts, np.arange(0, len(sig)), sig)
        last = 0.0
        if self.cfg.get("final_sigmas_type", "zero") == "sigma_min":
            last = float(np.sqrt((F32(1.0) - self.ac[0]) / self.ac[0]))
        self.sigmas = np.concatenate([sigmas, [last]]).astype(np.float32)
        self.timesteps = ts.astype(np.float32)
        self.step_index = None

    @property
    def init_noise_sigma(self):
        m = self.sigmas.max()
        if self.spacing in ("linspace", "trailing"):
            return m
        return (m**2 + 1) ** 0.5

    def index_for_timestep(self, t):
        indices = np.nonzero(self.timesteps == t)[0]
        pos = 1 if len(indices) > 1 else 0
        return int(indices[pos])

    def scale_model_input(self, sample, t):
        if self.step_index is None:
            self.step_index = self.index_for_timestep(t)
        sigma = float(self.sigmas[self.step_index])
        return sample / ((sigma**2 + 1) ** 0.5)


class EulerAncestral(EulerBase):
    def step(self, model_output, t, sample, noise):
        if self.step_index is None:
            self.step_index = self.index_for_timestep(t)
        sigma = float(self.sigmas[self.step_index])
        if self.prediction_type == "epsilon":
            x0 = sample - sigma * model_output
        elif self.prediction_type == "v_prediction":
            x0 = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        else:
            raise ValueError(self.prediction_type)
        sigma_from = sigma
        sigma_to = float(self.sigmas[self.step_index + 1])
        sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
        sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
        derivative = (sample - x0) / sigma
        dt = sigma_down - sigma
        prev = sample + derivative * dt
        prev = prev + noise * sigma_up
        self.step_index += 1
        return prev


class Euler(EulerBase):
    def step(self, model_output, t, sample):
        if self.step_index is None:
            self.step_index = self.index_for_timestep(t)
        sigma = float(self.sigmas[self.step_index])
        sigma_hat = sigma  # s_churn = 0 (the pipeline default) gives gamma = 0
        if self.prediction_type in ("original_sample", "sample"):
            x0 = model_output
        elif self.prediction_type == "epsilon":
            x0 = sample - sigma_hat * model_output
        elif self.prediction_type == "v_prediction":
            x0 = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        else:
            raise ValueError(self.prediction_type)
        derivative = (sample - x0) / sigma_hat
        dt = float(self.sigmas[self.step_index + 1]) - sigma_hat
        prev = sample + derivative * dt
        self.step_index += 1
        return prev


def make(name, cfg, steps, eta=0.0):
    if name == "pndm":
        return PNDM(cfg, steps)
    if name == "ddim":
        return DDIM(cfg, steps, eta)
    if name == "euler-ancestral":
        return EulerAncestral(cfg, steps)
    if name in ("euler", "turbo"):
        if name == "turbo":
            cfg = {**cfg, "timestep_spacing": "trailing"}
        return Euler(cfg, steps)
    raise ValueError(name)


# ---------------------------------------------------------------- fixtures

SAMPLE_SIZE = 16


def g9(values):
    """float32 values written with 9 significant digits (round-trips float32 exactly)."""
    return [float(f"{float(v):.9g}") for v in np.asarray(values).ravel()]


def initial_sample():
    i = np.arange(SAMPLE_SIZE)
    return f32(1.2 * np.cos(0.9 * i + 0.3))


def fake_model(x, t):
    """Deterministic stand-in for the UNet: depends on its input and on t."""
    i = np.arange(len(x))
    return f32(0.1 * x.astype(np.float64) + np.sin(0.01 * float(t) + 0.37 * i))


def trajectory(case):
    name, cfg, steps = case["scheduler"], case["config"], case["steps"]
    eta = case.get("eta", 0.0)
    s = make(name, cfg, steps, eta)
    needs_noise = name == "euler-ancestral" or eta > 0
    rng = np.random.default_rng(case.get("noise_seed", 0))
    x = f32(initial_sample() * F32(s.init_noise_sigma))
    out = {
        **case,
        "timesteps": [float(t) for t in s.timesteps],
        "init_noise_sigma": float(s.init_noise_sigma),
        "initial_sample": g9(x),
        "steps_taken": [],
    }
    if hasattr(s, "sigmas"):
        out["sigmas"] = g9(s.sigmas)
    for t in s.timesteps:
        t_val = t.item()
        model_in = f32(s.scale_model_input(x.astype(np.float64), t_val))
        mo = fake_model(model_in, t_val).astype(np.float64)
        entry = {"t": float(t_val)}
        if hasattr(s, "sigmas"):
            entry["model_input"] = g9(model_in)
        if needs_noise:
            noise = rng.standard_normal(SAMPLE_SIZE)
            entry["noise"] = [float(v) for v in noise]
            x = f32(s.step(mo, t_val, x.astype(np.float64), noise))
        else:
            x = f32(s.step(mo, t_val, x.astype(np.float64)))
        entry["sample"] = g9(x)
        out["steps_taken"].append(entry)
    return out


CASES = [
    {"id": "pndm-sd21-50", "scheduler": "pndm", "config": SD21_BASE, "steps": 50},
    {"id": "ddim-sd21-20", "scheduler": "ddim", "config": SD21_BASE, "steps": 20},
    {"id": "euler-ancestral-sd21-20", "scheduler": "euler-ancestral", "config": SD21_BASE, "steps": 20,
     "noise_seed": 1234},
    {"id": "turbo-1", "scheduler": "turbo", "config": SD_TURBO, "steps": 1},
    {"id": "turbo-4", "scheduler": "turbo", "config": SD_TURBO, "steps": 4},
    {"id": "euler-sd21-25", "scheduler": "euler", "config": SD21_BASE, "steps": 25},
    {"id": "pndm-prk-10", "scheduler": "pndm", "config": {**SD21_BASE, "skip_prk_steps": False}, "steps": 10},
    {"id": "pndm-vpred-linspace-7", "scheduler": "pndm",
     "config": {**SD21_BASE, "prediction_type": "v_prediction", "timestep_spacing": "linspace"}, "steps": 7},
    {"id": "pndm-cosine-trailing-10-alpha-one", "scheduler": "pndm",
     "config": {**SD21_BASE, "beta_schedule": "squaredcos_cap_v2", "timestep_spacing": "trailing",
                "set_alpha_to_one": True}, "steps": 10},
    {"id": "ddim-vpred-trailing-10-eta", "scheduler": "ddim",
     "config": {**SD21_BASE, "prediction_type": "v_prediction", "timestep_spacing": "trailing"}, "steps": 10,
     "eta": 0.7, "noise_seed": 99},
    {"id": "ddim-defaults-linear-linspace-7", "scheduler": "ddim",
     "config": {"num_train_timesteps": 1000, "beta_schedule": "linear", "timestep_spacing": "linspace"},
     "steps": 7},
    {"id": "euler-ancestral-leading-vpred-15", "scheduler": "euler-ancestral",
     "config": {**SD21_BASE, "prediction_type": "v_prediction", "timestep_spacing": "leading"}, "steps": 15,
     "noise_seed": 7},
    {"id": "euler-sigma-min-leading-8", "scheduler": "euler",
     "config": {**SD21_BASE, "timestep_spacing": "leading", "final_sigmas_type": "sigma_min"}, "steps": 8},
]

TABLE_INDICES = [0, 1, 2, 10, 100, 250, 499, 500, 750, 998, 999]


def tables():
    schedules = {}
    for label, cfg in [
        ("scaled_linear_sd", SD21_BASE),
        ("linear_default", {"num_train_timesteps": 1000, "beta_schedule": "linear"}),
        ("squaredcos_cap_v2", {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"}),
    ]:
        b = betas(cfg)
        ac = alphas_cumprod(cfg)
        schedules[label] = {
            "config": cfg,
            "indices": TABLE_INDICES,
            "betas": g9(b[TABLE_INDICES]),
            "alphas_cumprod": g9(ac[TABLE_INDICES]),
            "train_sigmas": g9(train_sigmas(ac)[TABLE_INDICES]),
        }
    grid = []
    for name in ["pndm", "ddim", "euler", "euler-ancestral"]:
        for spacing in ["leading", "trailing", "linspace"]:
            for steps in [1, 3, 7, 20, 50]:
                cfg = {**SD21_BASE, "timestep_spacing": spacing}
                s = make(name, cfg, steps)
                row = {"scheduler": name, "timestep_spacing": spacing, "steps": steps,
                       "timesteps": [float(t) for t in s.timesteps],
                       "init_noise_sigma": float(s.init_noise_sigma)}
                if hasattr(s, "sigmas"):
                    row["sigmas"] = g9(s.sigmas)
                grid.append(row)
    return {"schedules": schedules, "timestep_grid": grid}


def compact_list(items):
    """One JSON object a line: small files that still diff by case."""
    return "[\n" + ",\n".join(json.dumps(item, separators=(",", ":")) for item in items) + "\n]\n"


def compact(schedules, grid):
    return (
        '{"schedules":' + json.dumps(schedules, separators=(",", ":")) + ',\n"timestep_grid":'
        + compact_list(grid).rstrip("\n") + "}\n"
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    t = tables()
    (OUT / "tables.json").write_text(compact(t["schedules"], t["timestep_grid"]))
    (OUT / "trajectories.json").write_text(compact_list([trajectory(c) for c in CASES]))
    print(f"wrote {OUT / 'tables.json'} and {OUT / 'trajectories.json'}")


if __name__ == "__main__":
    main()
