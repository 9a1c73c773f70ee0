//! Experiment files: validation errors (path and message), defaults, the `to_toml` round trip,
//! `--set` overrides (`parse_override`, `set_path`) and sweep cells.

use saddle::config::optimizer::{AdamSpec, MomentumSpec, RmsPropSpec};
use saddle::config::{parse_override, parse_table, set_path, ConfigError, Experiment, Rule};
use saddle::ensemble::Init;
use saddle::model::Field;
use saddle::noise::Law;
use saddle::sweep::{cell_experiment, AxisValues, CellTables};
use toml::Value;

/// A document built from sections; `None` leaves a section out.
#[derive(Clone)]
struct Doc {
    root: &'static str,
    model: Option<&'static str>,
    noise: Option<&'static str>,
    optimizer: Option<&'static str>,
    rest: &'static str,
}

const DOC: Doc = Doc {
    root: "runs = 10\nsteps = 100",
    model: Some("kind = \"quadratic\""),
    noise: Some("kind = \"two-point\"\na = -1.0"),
    optimizer: Some("kind = \"sgd\"\nlr = 0.1"),
    rest: "",
};

impl Doc {
    fn text(&self) -> String {
        let mut s = format!("{}\n", self.root);
        for (name, body) in [
            ("model", self.model),
            ("noise", self.noise),
            ("optimizer", self.optimizer),
        ] {
            if let Some(b) = body {
                s += &format!("[{name}]\n{b}\n");
            }
        }
        s + self.rest
    }
}

fn root(root: &'static str) -> Doc {
    Doc { root, ..DOC }
}
fn model(m: &'static str) -> Doc {
    Doc {
        model: Some(m),
        ..DOC
    }
}
fn noise(n: &'static str) -> Doc {
    Doc {
        noise: Some(n),
        ..DOC
    }
}
fn opt(o: &'static str) -> Doc {
    Doc {
        optimizer: Some(o),
        ..DOC
    }
}
fn rest(r: &'static str) -> Doc {
    Doc { rest: r, ..DOC }
}
fn sharp_rest(r: &'static str) -> Doc {
    Doc {
        model: Some("kind = \"sharp-flat\""),
        rest: r,
        ..DOC
    }
}

#[test]
fn the_base_document_is_valid() {
    Experiment::from_toml(&DOC.text()).expect("base document");
    Experiment::from_toml(&sharp_rest("").text()).expect("sharp-flat base");
}

/// Each broken input with the expected key path and a substring of the message.
#[test]
fn broken_inputs_name_the_key_and_what_is_allowed() {
    let cases: Vec<(Doc, &str, &str)> = vec![
        // Unknown keys, with the allowed ones listed.
        (
            root("runs = 10\nsteps = 100\nfoo = 1"),
            "foo",
            "unknown key; allowed here: name, description, mode, seed, runs, steps, model, noise, \
             init, optimizer, diffusion, divergence, observe, sweep",
        ),
        (
            opt("kind = \"sgd\"\nlr = 0.1\nbeta1 = 0.9"),
            "optimizer.beta1",
            "unknown key; allowed here: kind, lr, clip, boundary",
        ),
        (
            opt("kind = \"sde\"\nlr = 0.1\nbeta = 0.9"),
            "optimizer.beta",
            "unknown key; allowed here: kind, lr, clip, boundary, dt, scheme",
        ),
        (
            opt("kind = \"sde\"\nlr = 0.1\ndt = 0.0"),
            "optimizer.dt",
            "the time step must be > 0 (got 0)",
        ),
        (
            opt("kind = \"sde\"\nlr = 0.1\nscheme = \"rk4\""),
            "optimizer.scheme",
            "milstein",
        ),
        (
            opt("kind = \"sgd\"\nlr = 0.1\nboundary = \"reflect\""),
            "optimizer.boundary",
            "needs a box: give clip = [lo, hi] as well",
        ),
        (
            opt("kind = \"sgd\"\nlr = 0.1\nclip = [-1.0, 1.0]\nboundary = \"bounce\""),
            "optimizer.boundary",
            "truncate",
        ),
        (
            Doc {
                model: Some("kind = \"tiny-net\""),
                optimizer: Some("kind = \"sde\"\nlr = 0.1"),
                ..DOC
            },
            "optimizer.kind",
            "one-dimensional; model `tiny-net` has 2 parameters",
        ),
        (
            rest("[diffusion]\nkind = \"minibatch\""),
            "diffusion.kind",
            "used only with optimizer.kind = \"sde\"",
        ),
        (
            Doc {
                optimizer: Some("kind = \"sde\"\nlr = 0.1"),
                rest: "[diffusion]\nkind = \"formula\"\nc = \"w1^2 + x\"",
                ..DOC
            },
            "diffusion.c",
            "a formula in w1 only",
        ),
        (
            Doc {
                optimizer: Some("kind = \"sde\"\nlr = 0.1"),
                rest: "[diffusion]\nkind = \"formula\"",
                ..DOC
            },
            "diffusion.c",
            "missing",
        ),
        (
            Doc {
                optimizer: Some("kind = \"sde\"\nlr = 0.1"),
                rest: "[diffusion]\nkind = \"designed\"\ntarget = \"exp(-(w1^2))\"",
                ..DOC
            },
            "diffusion.kind",
            "give optimizer.clip = [lo, hi]",
        ),
        (
            Doc {
                optimizer: Some("kind = \"sde\"\nlr = 0.1\nclip = [-4.0, 4.0]"),
                rest: "[diffusion]\nkind = \"designed\"\ntarget = \"exp(-(w1^2))\"\ncells = 3",
                ..DOC
            },
            "diffusion.cells",
            "between 16 and 10000000",
        ),
        (
            noise("kind = \"two-point\"\na = -1.0\nmean = 0.0"),
            "noise.mean",
            "unknown key; allowed here: kind, batch, field, injected_sigma, a",
        ),
        (
            noise("kind = \"dataset\"\nx = [1.0]\nfield = \"y\""),
            "noise.field",
            "unknown key",
        ),
        (
            model("kind = \"quadratic\"\nb = 1.0"),
            "model.b",
            "unknown key; allowed here: kind",
        ),
        (
            rest("[observe]\nfoo = 1"),
            "observe.foo",
            "unknown key; allowed here: trace, escape, escape_rate_steps, final_states, \
             histogram, histogram2d",
        ),
        // Learning rate.
        (
            opt("kind = \"sgd\"\nlr = 0.0"),
            "optimizer.lr",
            "the learning rate must be > 0 (got 0)",
        ),
        (
            opt("kind = \"sgd\"\nlr = -1"),
            "optimizer.lr",
            "must be > 0 (got -1)",
        ),
        (opt("kind = \"sgd\""), "optimizer.lr", "missing"),
        // Probabilities.
        (
            noise("kind = \"discrete\"\nvalues = [1.0, 2.0]\nprobs = [0.5, 0.4]"),
            "noise.probs",
            "must sum to 1",
        ),
        (
            noise("kind = \"discrete\"\nvalues = [1.0, 2.0]\nprobs = [-0.5, 1.5]"),
            "noise.probs",
            "must be >= 0 (got -0.5)",
        ),
        (
            noise("kind = \"discrete\"\nvalues = [1.0, 2.0]\nprobs = [0.2, 0.3, 0.5]"),
            "noise.probs",
            "has 3 entries but values has 2",
        ),
        (
            noise("kind = \"discrete\"\nvalues = []"),
            "noise.values",
            "must not be empty",
        ),
        // Other ranges.
        (
            noise("kind = \"gaussian\"\nstd = -1.0"),
            "noise.std",
            "must be >= 0",
        ),
        (
            noise("kind = \"uniform\"\nlo = 1.0\nhi = 1.0"),
            "noise.hi",
            "must be greater than lo",
        ),
        (
            noise("kind = \"two-point\"\na = -1.0\nbatch = 0"),
            "noise.batch",
            "must be between 1 and 1000000 (got 0)",
        ),
        (
            noise("kind = \"two-point\"\na = -1.0\ninjected_sigma = -0.1"),
            "noise.injected_sigma",
            "must be >= 0",
        ),
        (
            noise("kind = \"dataset\"\nx = [1.0, 2.0]\ny = [1.0]"),
            "noise.y",
            "has 1 entries but x has 2",
        ),
        (
            root("runs = 0\nsteps = 100"),
            "runs",
            "must be between 1 and 4294967295 (got 0)",
        ),
        (root("runs = 10\nsteps = 0"), "steps", "must be at least 1"),
        (root("steps = 100"), "runs", "missing"),
        (
            opt("kind = \"adam\"\nlr = 0.1\nbeta1 = 1.0"),
            "optimizer.beta1",
            "must be in [0, 1) (got 1)",
        ),
        (
            opt("kind = \"rmsprop\"\nlr = 0.1\neps = -1e-8"),
            "optimizer.eps",
            "must be >= 0",
        ),
        (
            opt("kind = \"sgd\"\nlr = 0.1\nclip = [1.0, -1.0]"),
            "optimizer.clip",
            "lo < hi",
        ),
        (
            rest("[divergence]\nbound = 0.0"),
            "divergence.bound",
            "must be > 0",
        ),
        (
            rest("[init]\nkind = \"uniform\"\nlo = 1.0\nhi = 0.5"),
            "init.hi",
            "must be greater than lo for every parameter",
        ),
        (
            Doc {
                model: Some("kind = \"sharp-flat\""),
                rest: "[init]\nkind = \"point\"\nw = [1.0, 2.0, 3.0]",
                ..DOC
            },
            "init.w",
            "has 3 values; give one, or one per parameter (2)",
        ),
        // Observers.
        (
            rest("[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nbins = 0"),
            "observe.histogram[0].bins",
            "must be between 1 and 100000 (got 0)",
        ),
        (
            rest("[[observe.histogram]]\nlo = 1.0\nhi = 1.0"),
            "observe.histogram[0].hi",
            "must be greater than lo (got lo = 1, hi = 1)",
        ),
        (
            rest("[[observe.histogram]]\nlo = -1.0\nhi = 1.0\nsteps = [50, 101]"),
            "observe.histogram[0].steps",
            "step 101 is outside 0..=100 (steps = 100)",
        ),
        (
            rest("[observe]\nescape_rate_steps = [0, 10]"),
            "observe.escape_rate_steps",
            "step 0 is outside 1..=100",
        ),
        (
            rest("[observe]\nescape_rate_steps = [101]"),
            "observe.escape_rate_steps",
            "step 101 is outside 1..=100",
        ),
        (
            rest("[[observe.histogram]]\nparam = 2\nlo = -1.0\nhi = 1.0"),
            "observe.histogram[0].param",
            "parameter 2 does not exist; the model has w1..w1",
        ),
        (
            rest("[[observe.histogram]]\nparam = 0\nlo = -1.0\nhi = 1.0"),
            "observe.histogram[0].param",
            "parameter 0 does not exist",
        ),
        (
            rest("[[observe.histogram2d]]\nlo = -1.0\nhi = 1.0"),
            "observe.histogram2d[0].params",
            "needs a model with two or more parameters (this one has 1)",
        ),
        (
            sharp_rest("[[observe.histogram2d]]\nparams = [1, 3]\nlo = -1.0\nhi = 1.0"),
            "observe.histogram2d[0].params",
            "parameter 3 does not exist; the model has w1..w2",
        ),
        (
            sharp_rest("[[observe.histogram2d]]\nparams = [2, 2]\nlo = -1.0\nhi = 1.0"),
            "observe.histogram2d[0].params",
            "must be two different parameters",
        ),
        (
            sharp_rest("[[observe.histogram2d]]\nlo = [-1.0, 1.0]\nhi = [1.0, 0.0]"),
            "observe.histogram2d[0].hi",
            "must be greater than lo",
        ),
        (
            rest("[observe.escape]\ndelta = 0.0"),
            "observe.escape.delta",
            "must be > 0",
        ),
        (
            rest("[observe.escape]\ndelta = 0.1\ncenter = [0.0, 1.0]"),
            "observe.escape.center",
            "has 2 values; give one, or one per parameter (1)",
        ),
        (
            rest("[observe]\ntrace = 20000"),
            "observe.trace",
            "at most 10000 points",
        ),
        // Non-finite numbers.
        (
            opt("kind = \"sgd\"\nlr = nan"),
            "optimizer.lr",
            "must be a finite number",
        ),
        (
            noise("kind = \"two-point\"\na = inf"),
            "noise.a",
            "must be a finite number",
        ),
        (
            noise("kind = \"discrete\"\nvalues = [1.0, -inf]"),
            "noise.values[1]",
            "must be a finite number",
        ),
        // Wrong types.
        (
            root("runs = \"ten\"\nsteps = 100"),
            "runs",
            "expected a non-negative integer, got \"ten\"",
        ),
        (
            root("runs = -3\nsteps = 100"),
            "runs",
            "expected a non-negative integer, got -3",
        ),
        (
            root("runs = 2.5\nsteps = 100"),
            "runs",
            "expected a non-negative integer, got 2.5",
        ),
        (
            opt("kind = \"sgd\"\nlr = \"fast\""),
            "optimizer.lr",
            "expected a number, got a string",
        ),
        (
            rest("[observe]\nfinal_states = 1"),
            "observe.final_states",
            "expected true or false, got 1",
        ),
        (
            Doc {
                root: "runs = 10\nsteps = 100\noptimizer = \"sgd\"",
                optimizer: None,
                ..DOC
            },
            "optimizer",
            "expected a table, got a string",
        ),
        (
            noise("kind = \"discrete\"\nvalues = [\"a\"]"),
            "noise.values[0]",
            "expected a number, got a string",
        ),
        (
            Doc {
                optimizer: None,
                ..DOC
            },
            "optimizer",
            "missing table",
        ),
        // Unknown kinds, listing the allowed ones.
        (
            model("kind = \"cubic\""),
            "model.kind",
            "unknown value \"cubic\"; allowed: quadratic, quartic, sharp-flat, tiny-net, formula",
        ),
        (
            model("b = 1.0"),
            "model.kind",
            "missing; allowed: quadratic, quartic, sharp-flat, tiny-net, formula",
        ),
        (
            noise("kind = \"poisson\""),
            "noise.kind",
            "unknown value \"poisson\"; allowed: two-point, discrete, gaussian, uniform, dataset",
        ),
        (
            opt("kind = \"lbfgs\"\nlr = 0.1"),
            "optimizer.kind",
            "unknown value \"lbfgs\"; allowed: gd, sgd, momentum, rmsprop, adam, amsgrad",
        ),
        (
            opt("kind = \"adam\"\nlr = 0.1\nvariant = \"optax\""),
            "optimizer.variant",
            "allowed: paper, library",
        ),
        (
            noise("kind = \"two-point\"\na = 0.5\nfield = \"z\""),
            "noise.field",
            "allowed: x, y",
        ),
        // Formulas.
        (
            model("kind = \"formula\"\nloss = \"x*w1^^2\"\nparams = 1"),
            "model.loss",
            "cannot parse formula",
        ),
        (
            model("kind = \"formula\"\nloss = \"-w1^2\"\nparams = 1"),
            "model.loss",
            "cannot parse formula",
        ),
        (
            model("kind = \"formula\"\nloss = \"z*w1\"\nparams = 1"),
            "model.loss",
            "unknown variable `z`",
        ),
        (
            model("kind = \"formula\"\nloss = \"x*w2\"\nparams = 1"),
            "model.loss",
            "unknown variable `w2`",
        ),
        (
            model("kind = \"formula\"\nloss = \"x*w1\"\nparams = 9"),
            "model.params",
            "between 1 and 8",
        ),
        (
            model("kind = \"formula\"\nparams = 1"),
            "model.loss",
            "missing",
        ),
        // Sweeps.
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nlinspace = [0.5, 0.1, 3]"),
            "sweep.axis[0].linspace",
            "needs lo < hi (got lo = 0.5, hi = 0.1)",
        ),
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nlogspace = [0.0, 1.0, 3]"),
            "sweep.axis[0].logspace",
            "needs lo > 0 (got 0)",
        ),
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nlogspace = [-1.0, 1.0, 3]"),
            "sweep.axis[0].logspace",
            "needs lo > 0 (got -1)",
        ),
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nlinspace = [0.1, 0.5, 2.5]"),
            "sweep.axis[0].linspace",
            "n must be a whole number",
        ),
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nlinspace = [0.1, 0.5]"),
            "sweep.axis[0].linspace",
            "must be [lo, hi, n] (got 2 values)",
        ),
        (
            rest(
                "[[sweep.axis]]\npath = \"optimizer.lr\"\nvalues = [0.1]\nlinspace = [0.1, 0.5, 2]",
            ),
            "sweep.axis[0].path",
            "give exactly one of",
        ),
        (
            rest("[[sweep.axis]]\npath = \"sweep.axis\"\nvalues = [1.0]"),
            "sweep.axis[0].path",
            "cannot sweep",
        ),
        (
            rest("[[sweep.axis]]\npath = \"optimizer.lr\"\nvalues = []"),
            "sweep.axis[0].values",
            "must not be empty",
        ),
        (rest("[sweep]"), "sweep.axis", "at least one"),
    ];
    let mut failures = vec![];
    for (doc, path, msg) in &cases {
        let text = doc.text();
        match Experiment::from_toml(&text) {
            Err(ConfigError::Invalid { path: p, msg: m }) if p == *path && m.contains(msg) => {
                // The Display form is "path: msg".
                let shown = Experiment::from_toml(&text).unwrap_err().to_string();
                assert_eq!(shown, format!("{p}: {m}"));
            }
            other => failures.push(format!(
                "--- input:\n{text}\n--- expected {path}: …{msg}…\n--- got {other:?}\n"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_toml_is_a_syntax_error() {
    match Experiment::from_toml("runs = = 3") {
        Err(ConfigError::Syntax(m)) => assert!(!m.is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Experiment::from_toml("[model\nkind = 1"),
        Err(ConfigError::Syntax(_))
    ));
}

#[test]
fn defaults_are_filled_in() {
    let e = Experiment::from_toml(&DOC.text()).unwrap();
    assert_eq!(e.name, "experiment");
    assert_eq!(e.description, "");
    assert_eq!(e.seed, 0);
    assert_eq!(e.noise.batch, 1);
    assert_eq!(e.noise.field, Field::X);
    assert_eq!(e.injected_sigma, 0.0);
    assert_eq!(
        e.init,
        Init::Uniform {
            lo: vec![-1.0],
            hi: vec![1.0]
        }
    );
    assert_eq!(e.optimizer.clip, None);
    assert!(e.sweep.is_none());
    assert!(e.observe.trace_steps.is_empty() && e.observe.escape.is_none());

    // tiny-net: the noise draws y, w₂ starts in [0, 1].
    let net = Doc {
        model: Some("kind = \"tiny-net\""),
        noise: Some("kind = \"discrete\"\nvalues = [-1.0, 2.0]"),
        ..DOC
    };
    let e = Experiment::from_toml(&net.text()).unwrap();
    assert_eq!(e.noise.field, Field::Y);
    assert_eq!(
        e.init,
        Init::Uniform {
            lo: vec![-1.0, 0.0],
            hi: vec![1.0, 1.0]
        }
    );
    // Uniform probabilities by default.
    assert_eq!(
        e.noise.law,
        Law::Discrete {
            values: vec![-1.0, 2.0],
            probs: vec![0.5, 0.5]
        }
    );

    // Optimizer defaults (docs/experiment-files.md).
    let o = |s: &'static str| Experiment::from_toml(&opt(s).text()).unwrap().optimizer;
    let m = o("kind = \"momentum\"\nlr = 0.1");
    assert_eq!(m.rule, Rule::Momentum(MomentumSpec { beta: 0.9 }));
    let r = o("kind = \"rmsprop\"\nlr = 0.1");
    assert_eq!(
        r.rule,
        Rule::RmsProp(RmsPropSpec {
            beta: 0.99,
            eps: 1e-8
        })
    );
    let a = o("kind = \"adam\"\nlr = 0.1");
    let adam = AdamSpec {
        beta1: 0.9,
        beta2: 0.999,
        eps: 0.0,
        library: false,
        amsgrad: false,
        decoupled: false,
    };
    assert_eq!((a.kind(), a.rule.clone()), ("adam", Rule::Adam(adam)));
    let l = o("kind = \"amsgrad\"\nlr = 0.1\nvariant = \"library\"");
    let ams = AdamSpec {
        eps: 1e-8,
        library: true,
        amsgrad: true,
        ..adam
    };
    assert_eq!((l.kind(), l.rule.clone()), ("amsgrad", Rule::Adam(ams)));
    // No weight decay by default, but AdamW's 0.01 (PyTorch's defaults).
    assert_eq!((m.weight_decay, a.weight_decay), (0.0, 0.0));
    let w = o("kind = \"adamw\"\nlr = 0.1");
    assert_eq!((w.kind(), w.weight_decay), ("adamw", 0.01));
    assert_eq!(
        w.rule,
        Rule::Adam(AdamSpec {
            eps: 1e-8,
            library: true,
            decoupled: true,
            ..adam
        })
    );

    // Sharp-flat: the proof's a = 0.5, b = 1/λ − 6 = 14.
    let e = Experiment::from_toml(&sharp_rest("").text()).unwrap();
    assert_eq!(
        e.model,
        saddle::config::ModelSpec::SharpFlat { a: 0.5, b: 14.0 }
    );

    // Integral floats are integers; single numbers are lists of one; steps sorted, deduplicated.
    let e = Experiment::from_toml(&root("runs = 1e3\nsteps = 100.0").text()).unwrap();
    assert_eq!((e.runs, e.steps), (1000, 100));
    let e = Experiment::from_toml(
        &rest("[observe]\nescape_rate_steps = [50, 10, 50]\n[[observe.histogram]]\nlo = -1\nhi = 1\nsteps = 7").text(),
    )
    .unwrap();
    assert_eq!(e.observe.escape_rate_steps, vec![10, 50]);
    assert_eq!(e.observe.histograms[0].steps, vec![7]);
    assert_eq!(e.observe.histograms[0].param, 0);
    assert_eq!(e.observe.histograms[0].bins, 50);

    // trace = n: n log-spaced steps from 1 to T, rounded, duplicates removed (the documented
    // example: T = 1000, n = 30 gives 27 steps 1, 2, 3, 4, 5, 7, 9, …, 788, 1000).
    let e = Experiment::from_toml(
        &Doc {
            root: "runs = 10\nsteps = 1000",
            rest: "[observe]\ntrace = 30",
            ..DOC
        }
        .text(),
    )
    .unwrap();
    let t = &e.observe.trace_steps;
    assert_eq!(t.len(), 27);
    assert_eq!(t[..7], [1, 2, 3, 4, 5, 7, 9]);
    assert_eq!(t[25..], [788, 1000]);
    for (i, s) in t.iter().enumerate().skip(7) {
        // Strictly increasing, each the rounded value of some 1000^(k/29).
        assert!(*s > t[i - 1]);
        assert!((0..30).any(|k| (1000f64.powf(k as f64 / 29.0)).round() as u64 == *s));
    }
    assert_eq!(e.trace_points, 30);
}

/// Experiments covering every section, every model, law and optimizer kind, and a sweep.
fn round_trip_cases() -> Vec<String> {
    vec![
        DOC.text(),
        r#"
        runs = 10
        steps = 100
        [model]
        kind = "quartic"
        [noise]
        kind = "gaussian"
        std = 1.0
        injected_sigma = 0.1
        [optimizer]
        kind = "sde"
        lr = 0.1
        dt = 0.05
        scheme = "euler-maruyama"
        clip = [-4.0, 4.0]
        boundary = "reflect"
        [diffusion]
        kind = "formula"
        c = "w1^2 + 1"
        "#
        .into(),
        r#"
        runs = 10
        steps = 100
        [model]
        kind = "quadratic"
        [noise]
        kind = "discrete"
        values = [1.0]
        [optimizer]
        kind = "sde"
        lr = 0.1
        clip = [-4.0, 4.0]
        [diffusion]
        kind = "designed"
        target = "exp(-((w1 - 1)^2))"
        c0 = 40.0
        "#
        .into(),
        r#"
        name = "net"
        description = "tiny net on a dataset"
        seed = 12345
        runs = 1001
        steps = 200
        [model]
        kind = "tiny-net"
        [noise]
        kind = "dataset"
        x = [1.0, 1.5, 1.0]
        y = [-1.0, 2.0, 0.5]
        replacement = false
        batch = 2
        injected_sigma = 0.01
        [optimizer]
        kind = "momentum"
        lr = 0.05
        beta = 0.5
        [observe]
        trace = 6
        final_states = true
        escape_rate_steps = [10, 50, 200]
        [observe.escape]
        delta = 0.1
        center = [0.0, 0.5]
        [[observe.histogram]]
        param = 2
        lo = -1.5
        hi = 1.5
        bins = 30
        steps = [0, 10, 200]
        [[observe.histogram2d]]
        params = [2, 1]
        lo = [-1.5, -1.0]
        hi = [1.5, 2.0]
        bins = [12, 10]
        steps = [50, 200]
        "#
        .into(),
        r#"
        runs = 5
        steps = 10
        [model]
        kind = "formula"
        loss = "x*w1^2/2 + (w2 - y)^2/2 + w3^4/4"
        params = 3
        [noise]
        kind = "gaussian"
        mean = -0.5
        std = 1.0
        field = "y"
        [init]
        kind = "point"
        w = [0.1, -0.2, 0.3]
        [optimizer]
        kind = "amsgrad"
        variant = "library"
        lr = 0.05
        beta1 = 0.0
        eps = 0.001
        clip = [-2.0, 2.0]
        [divergence]
        bound = 1e12
        "#
        .into(),
        r#"
        runs = 5
        steps = 10
        [model]
        kind = "quartic"
        b = 0.25
        [noise]
        kind = "uniform"
        lo = -1.0
        hi = 3.0
        [init]
        lo = -0.5
        hi = 0.25
        [optimizer]
        kind = "rmsprop"
        lr = 0.01
        beta = 0.9
        eps = 0.0
        "#
        .into(),
        r#"
        runs = 5
        steps = 10
        [model]
        kind = "sharp-flat"
        a = 0.25
        b = 3.0
        [noise]
        kind = "discrete"
        values = [1.0, -1.0, 0.1]
        probs = [0.25, 0.25, 0.5]
        [optimizer]
        kind = "gd"
        lr = 0.05
        "#
        .into(),
        r#"
        name = "phase"
        runs = 100
        steps = 1000
        [model]
        kind = "quadratic"
        [noise]
        kind = "two-point"
        a = -1.0
        [optimizer]
        kind = "adam"
        lr = 0.1
        [observe.escape]
        delta = 0.05
        [[sweep.axis]]
        path = "noise.a"
        linspace = [-1.0, 1.0, 5]
        [[sweep.axis]]
        path = "optimizer.lr"
        logspace = [0.01, 2.0, 7]
        [[sweep.axis]]
        path = "noise.batch"
        values = [1.0, 2.0, 8.0]
        "#
        .into(),
    ]
}

#[test]
fn to_toml_round_trips() {
    for text in round_trip_cases() {
        let e = Experiment::from_toml(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
        let t = e.to_toml();
        let back = Experiment::from_toml(&t).unwrap_or_else(|err| panic!("{err}\n{t}"));
        assert_eq!(back, e, "round trip changed the experiment:\n{t}");
        // Writing is a fixed point.
        assert_eq!(back.to_toml(), t);
    }
}

#[test]
fn sweep_grid_is_parsed_and_cells_apply_their_values() {
    let text = round_trip_cases().pop().unwrap();
    let e = Experiment::from_toml(&text).unwrap();
    let g = e.sweep.clone().expect("sweep");
    assert_eq!(g.axes.len(), 3);
    assert_eq!(
        g.axes[1].values,
        AxisValues::Logspace {
            lo: 0.01,
            hi: 2.0,
            n: 7
        }
    );
    assert_eq!(g.len(), 5 * 7 * 3);
    let cells = g.cells();
    // Row-major, last axis fastest: cell 1 changes the batch, cell 3 the learning rate.
    assert_eq!(cells[1].assignments[2], ("noise.batch".into(), 2.0));
    assert_eq!(cells[3].assignments[1].1, g.axes[1].values.values()[1]);
    let lrs = g.axes[1].values.values();
    assert_eq!((lrs[0], lrs[6]), (0.01, 2.0));
    for w in lrs.windows(2) {
        // Equal ratios: ln spacing (2/0.01)^(1/6).
        assert!((w[1] / w[0] - 200f64.powf(1.0 / 6.0)).abs() < 1e-12);
    }

    let base = parse_table(&text).unwrap();
    let last = cells.last().unwrap();
    let ce = cell_experiment(&base, last).unwrap();
    assert_eq!(ce.sweep, None);
    assert_eq!(ce.noise.law, Law::TwoPoint { a: 1.0 });
    assert_eq!(ce.optimizer.lr, 2.0);
    assert_eq!(ce.noise.batch, 8);
    // Everything else is the base experiment.
    let mut expect = e.clone();
    expect.sweep = None;
    expect.noise.law = Law::TwoPoint { a: 1.0 };
    expect.optimizer.lr = 2.0;
    expect.noise.batch = 8;
    assert_eq!(ce, expect);
    // runs/steps are written as integers even when the base does not hold the key as one.
    let mut c = cells[0].clone();
    c.assignments = vec![("steps".into(), 20.0)];
    assert_eq!(cell_experiment(&base, &c).unwrap().steps, 20);
    // An invalid cell is reported by validation.
    c.assignments = vec![("optimizer.lr".into(), -1.0)];
    assert!(matches!(
        cell_experiment(&base, &c),
        Err(ConfigError::Invalid { path, .. }) if path == "optimizer.lr"
    ));

    // One working table reused over the cells gives each cell's own experiment: over the
    // whole grid, and after a cell that sets other keys or fails.
    let mut tables = CellTables::new(&base);
    for cell in &cells {
        assert_eq!(tables.experiment(cell), cell_experiment(&base, cell));
    }
    let mut steps_only = cells[0].clone();
    steps_only.assignments = vec![("steps".into(), 20.0)];
    let fresh = cell_experiment(&base, &steps_only).unwrap();
    assert_eq!(tables.experiment(&steps_only).unwrap(), fresh);
    assert_eq!(
        fresh.optimizer.lr, e.optimizer.lr,
        "no value of the last cell is left"
    );
    let mut bad = cells[4].clone();
    bad.assignments[1].1 = -1.0;
    assert!(tables.experiment(&bad).is_err());
    for cell in [&cells[9], &cells[4], &cells[0]] {
        assert_eq!(tables.experiment(cell), cell_experiment(&base, cell));
    }
}

#[test]
fn parse_override_reads_toml_values_or_bare_strings() {
    let p = |s: &str| parse_override(s).unwrap();
    assert_eq!(
        p("optimizer.lr=0.1"),
        ("optimizer.lr".into(), Value::Float(0.1))
    );
    assert_eq!(p(" runs = 200 "), ("runs".into(), Value::Integer(200)));
    assert_eq!(
        p("observe.final_states=true"),
        ("observe.final_states".into(), Value::Boolean(true))
    );
    assert_eq!(
        p("noise.values=[1, -1.5]"),
        (
            "noise.values".into(),
            Value::Array(vec![Value::Integer(1), Value::Float(-1.5)])
        )
    );
    assert_eq!(
        p("optimizer.kind=adam"),
        ("optimizer.kind".into(), Value::String("adam".into()))
    );
    assert_eq!(
        p("name=\"quoted\""),
        ("name".into(), Value::String("quoted".into()))
    );
    // Only the first '=' separates the path from the value.
    assert_eq!(p("name=a=b"), ("name".into(), Value::String("a=b".into())));
    let (_, v) = p("observe.escape={ delta = 0.05 }");
    assert_eq!(v.as_table().unwrap()["delta"], Value::Float(0.05));
    for bad in ["optimizer.lr", "=0.1", "optimizer.lr=", "  =  "] {
        assert_eq!(
            parse_override(bad),
            Err(ConfigError::Override(bad.into())),
            "{bad:?}"
        );
    }
}

#[test]
fn set_path_creates_tables_and_rejects_non_tables() {
    let mut t = parse_table(&DOC.text()).unwrap();
    set_path(&mut t, "optimizer.lr", Value::Float(0.5)).unwrap();
    set_path(&mut t, "observe.escape.delta", Value::Float(0.05)).unwrap();
    set_path(&mut t, "seed", Value::Integer(9)).unwrap();
    let e = Experiment::from_table(&t).unwrap();
    assert_eq!(e.optimizer.lr, 0.5);
    assert_eq!(e.observe.escape.as_ref().unwrap().delta, 0.05);
    assert_eq!(e.seed, 9);

    match set_path(&mut t, "runs.x", Value::Integer(1)) {
        Err(ConfigError::Invalid { path, msg }) => {
            assert_eq!(path, "runs");
            assert!(msg.contains("not a table"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // A path through an array of tables is an error too.
    let mut h = parse_table(&rest("[[observe.histogram]]\nlo = -1.0\nhi = 1.0").text()).unwrap();
    match set_path(&mut h, "observe.histogram.lo", Value::Float(0.0)) {
        Err(ConfigError::Invalid { path, msg }) => {
            assert_eq!(path, "observe.histogram");
            assert!(msg.contains("not a table"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    for bad in ["a..b", ".a", "a."] {
        assert!(
            matches!(set_path(&mut t, bad, Value::Integer(1)), Err(ConfigError::Invalid { msg, .. }) if msg.contains("empty key")),
            "{bad}"
        );
    }
    // An override that makes the file invalid is caught by validation, with the path.
    let (p, v) = parse_override("optimizer.lr=-2").unwrap();
    set_path(&mut t, &p, v).unwrap();
    assert!(matches!(
        Experiment::from_table(&t),
        Err(ConfigError::Invalid { path, .. }) if path == "optimizer.lr"
    ));
    // A bare-string override of a number is a type error there.
    let mut t = parse_table(&DOC.text()).unwrap();
    let (p, v) = parse_override("optimizer.lr=fast").unwrap();
    set_path(&mut t, &p, v).unwrap();
    match Experiment::from_table(&t) {
        Err(ConfigError::Invalid { path, msg }) => {
            assert_eq!(path, "optimizer.lr");
            assert!(msg.contains("expected a number"));
        }
        other => panic!("{other:?}"),
    }
}

/// Messages never spell a float with hundreds of digits: numbers of more than 20 digits are
/// rewritten as `num` writes them, everything else is left alone.
#[test]
fn compact_numbers_rewrites_only_long_numbers() {
    use saddle::config::compact_numbers;
    let long = format!("a = {} and lr = {}, 12 runs, v0.5", 1e300, 5e-324);
    assert!(long.len() > 600);
    assert_eq!(
        compact_numbers(&long),
        "a = 1e300 and lr = 5e-324, 12 runs, v0.5"
    );
    assert_eq!(compact_numbers("λ = 0.8 (μ ≥ 0)"), "λ = 0.8 (μ ≥ 0)");
    assert_eq!(compact_numbers("-1e300 ≥ 2⁵³"), "-1e300 ≥ 2⁵³");
    let hash = "md5 123456789012345678901234abcdef";
    assert_eq!(compact_numbers(hash), hash);
    assert_eq!(
        compact_numbers(&format!("-{}", 1e25)),
        "-1e25",
        "the sign stays in front"
    );
}

/// A TOML error on a very long line shows the characters around the error, not the line: the
/// message stays short, names the line and column, and puts a caret under the error.
#[test]
fn toml_errors_on_long_lines_are_shortened() {
    let text = format!("runs = 1\nx = {}]\n", "1*".repeat(2000));
    let Err(ConfigError::Syntax(m)) = saddle::config::parse_table(&text) else {
        panic!("expected a syntax error");
    };
    assert!(m.len() < 600, "{} bytes: {m}", m.len());
    assert!(m.starts_with("TOML parse error at line 2, column "), "{m}");
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(lines.len(), 3, "{m}");
    assert!(lines[2].trim_start() == "^", "{m}");
    // A short line keeps the parser's own message.
    let Err(ConfigError::Syntax(m)) = saddle::config::parse_table("runs = ]") else {
        panic!("expected a syntax error");
    };
    assert!(m.contains("runs = ]"), "{m}");
}
