//! Reproducibility: a run's result is a pure function of (experiment, seed, cell), whatever the
//! thread count, and each run's trajectory depends only on its own index (no state leaks
//! between runs that share a chunk or a lane group, including the per-run permutation of a data
//! set drawn without replacement).

use saddle::config::Experiment;
use saddle::experiment::{run, Summary};

/// The minimal network on a data set drawn without replacement (a minibatch of 2 from 3
/// points, so batches straddle epochs), with injected noise and every observer. 1001 runs:
/// several chunks of 256, and a last partial lane group.
const NET: &str = r#"
name = "det-net"
seed = 7
runs = 1001
steps = 200
[model]
kind = "tiny-net"
[noise]
kind = "dataset"
x = [1.0, 1.0, 1.0]
y = [-1.0, 2.0, 0.5]
replacement = false
batch = 2
injected_sigma = 0.01
[init]
lo = [-1.0, 0.0]
hi = [1.0, 1.0]
[optimizer]
kind = "sgd"
lr = 0.05
[observe]
trace = 6
final_states = true
escape_rate_steps = [10, 50, 200]
[observe.escape]
delta = 0.1
center = [0.0, 0.0]
[[observe.histogram]]
param = 1
lo = -1.5
hi = 1.5
bins = 30
steps = [0, 10, 200]
[[observe.histogram2d]]
params = [1, 2]
lo = [-1.5, -1.0]
hi = [1.5, 2.0]
bins = [12, 10]
steps = [50, 200]
"#;

/// Prop. 1's setting with a small bound: runs are absorbed and others diverge, so every status
/// goes through the merge.
const QUAD: &str = r#"
name = "det-quad"
seed = 3
runs = 777
steps = 12
[model]
kind = "quadratic"
[noise]
kind = "two-point"
a = -1.0
[optimizer]
kind = "sgd"
lr = 1.0
[divergence]
bound = 100.0
[observe]
trace = 4
final_states = true
escape_rate_steps = [2, 12]
[observe.escape]
delta = 0.05
[[observe.histogram]]
lo = -50.0
hi = 50.0
bins = 20
steps = [1, 12]
"#;

/// A formula with Gaussian noise, AMSGrad (library variant) with a box, injected noise.
const FORMULA: &str = r#"
name = "det-formula"
seed = 99
runs = 600
steps = 150
[model]
kind = "formula"
loss = "x*w1^2/2 + (w2 - x)^2/2 + w1^4/4"
params = 2
[noise]
kind = "gaussian"
mean = -0.5
std = 1.0
batch = 3
injected_sigma = 0.2
[optimizer]
kind = "amsgrad"
variant = "library"
lr = 0.05
clip = [-2.0, 2.0]
[observe]
trace = 3
final_states = true
escape_rate_steps = [150]
[observe.escape]
delta = 0.5
"#;

/// The SDE (Eq. 49) with a formula diffusion, additive noise and reflecting walls.
const SDE: &str = r#"
name = "det-sde"
seed = 5
runs = 700
steps = 120
[model]
kind = "quartic"
[noise]
kind = "two-point"
a = -1.0
batch = 2
injected_sigma = 0.1
[optimizer]
kind = "sde"
lr = 0.5
dt = 0.05
clip = [-1.5, 1.5]
boundary = "reflect"
[diffusion]
kind = "formula"
c = "w1^2 + 1/10"
[observe]
trace = 3
final_states = true
escape_rate_steps = [120]
[observe.escape]
delta = 0.5
"#;

fn exp(text: &str) -> Experiment {
    Experiment::from_toml(text).expect("valid experiment")
}

fn in_pool(threads: usize, e: &Experiment, cell: u32) -> Summary {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(|| run(e, cell, None).expect("runs"))
}

fn json(s: &Summary) -> String {
    serde_json::to_string(s).expect("serialises")
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for text in [NET, QUAD, FORMULA, SDE] {
        let e = exp(text);
        let one = in_pool(1, &e, 0);
        // The experiment exercises what it claims to.
        let fs = one.final_states.as_ref().unwrap();
        assert_eq!(fs.len() as u64, e.runs);
        assert!(fs.iter().enumerate().all(|(i, f)| f.run == i as u64));
        assert!(!one.trace.is_empty() && !one.escape_rate.is_empty() && one.escape.is_some());
        for threads in [2, 3] {
            let many = in_pool(threads, &e, 0);
            assert!(one == many, "{}: 1 vs {threads} threads differ", e.name);
            assert_eq!(json(&one), json(&many), "{}", e.name);
        }
    }
}

#[test]
fn repeated_runs_are_identical_and_seed_and_cell_matter() {
    for text in [NET, QUAD, FORMULA, SDE] {
        let e = exp(text);
        let a = in_pool(2, &e, 0);
        let b = in_pool(2, &e, 0);
        assert!(a == b, "{}: two runs differ", e.name);
        assert_eq!(json(&a), json(&b));

        let mut e2 = e.clone();
        e2.seed += 1;
        let c = in_pool(2, &e2, 0);
        assert_ne!(c.final_states, a.final_states, "{}: seed ignored", e.name);
        let (ja, jc) = (json(&a), json(&c));
        assert_ne!(
            ja.replace("\"seed\":", ""),
            jc.replace("\"seed\":", ""),
            "{}",
            e.name
        );

        let d = in_pool(2, &e, 1);
        assert_eq!(d.cell, 1);
        assert_ne!(d.final_states, a.final_states, "{}: cell ignored", e.name);
    }
}

/// Run i's trajectory depends on (seed, cell, i) only: the first runs of a larger ensemble end
/// exactly where a smaller ensemble's runs end, across chunk (`CHUNK` = 256) and lane-group
/// (`LANES` = 32) boundaries. A per-run state that leaked from one run into the next (the data-set
/// permutation, buffered coin bits, optimizer state) would break this.
#[test]
fn each_run_depends_only_on_its_own_index() {
    for text in [NET, QUAD, FORMULA, SDE] {
        let big = exp(text);
        let all = in_pool(2, &big, 0).final_states.unwrap();
        for runs in [1u64, 5, 9, 33, 300] {
            let mut small = big.clone();
            small.runs = runs;
            let part = in_pool(1, &small, 0).final_states.unwrap();
            assert_eq!(
                part[..],
                all[..runs as usize],
                "{}: first {runs} runs",
                big.name
            );
        }
    }
}

/// Own binning of a value, as documented: bin ⌊(x − lo)/(hi − lo)·bins⌋, x = hi in the last
/// bin; `Err(false)` below lo, `Err(true)` above hi.
fn bin(x: f64, lo: f64, hi: f64, n: usize) -> Result<usize, bool> {
    if x < lo {
        Err(false)
    } else if x > hi {
        Err(true)
    } else {
        Ok((((x - lo) / (hi - lo) * n as f64) as usize).min(n - 1))
    }
}

/// The summary agrees with the final states it was merged from: diverged and absorbed counts,
/// the final-step histograms (re-binned here; 2-D counts row-major, first parameter slowest),
/// the mean final norm over non-diverged runs, and the escape fraction (diverged runs count as
/// escaped).
#[test]
fn summary_agrees_with_final_states() {
    use saddle::observe::Status;
    for text in [NET, QUAD, FORMULA, SDE] {
        let e = exp(text);
        let s = in_pool(3, &e, 0);
        let fs = s.final_states.as_ref().unwrap();
        let diverged = |f: &&saddle::observe::FinalState| matches!(f.status, Status::Diverged(_));
        let div = fs.iter().filter(diverged).count() as u64;
        let abs = fs
            .iter()
            .filter(|f| matches!(f.status, Status::Absorbed(_)))
            .count() as u64;
        assert_eq!((s.diverged, s.absorbed), (div, abs), "{}", e.name);
        if e.name == "det-quad" {
            assert!(
                div > 0 && abs > 0,
                "the QUAD experiment must absorb and diverge"
            );
        }

        for h in s.histograms.iter().chain(&s.histograms2d) {
            let total: u64 = h.counts.iter().sum::<u64>() + h.underflow + h.overflow + h.excluded;
            assert_eq!(total, e.runs, "{}: histogram at step {}", e.name, h.step);
            if h.step != e.steps {
                continue;
            }
            let mut counts = vec![0u64; h.counts.len()];
            let (mut under, mut over, mut excl) = (0, 0, 0);
            for f in fs {
                if diverged(&f) {
                    excl += 1;
                    continue;
                }
                let idx: Vec<Result<usize, bool>> = (0..h.params.len())
                    .map(|a| bin(f.w[h.params[a]], h.lo[a], h.hi[a], h.bins[a]))
                    .collect();
                if idx.contains(&Err(true)) {
                    over += 1;
                } else if idx.iter().any(|r| r.is_err()) {
                    under += 1;
                } else {
                    let k = idx
                        .iter()
                        .zip(&h.bins)
                        .fold(0, |k, (i, b)| k * b + i.unwrap());
                    counts[k] += 1;
                }
            }
            assert_eq!(
                (&counts, under, over, excl),
                (&h.counts, h.underflow, h.overflow, h.excluded),
                "{}: histogram of {:?} at step {}",
                e.name,
                h.params,
                h.step
            );
        }

        let alive: Vec<f64> = fs
            .iter()
            .filter(|f| !diverged(f))
            .map(|f| f.w.iter().map(|x| x * x).sum::<f64>().sqrt())
            .collect();
        let mean = alive.iter().sum::<f64>() / alive.len() as f64;
        let got = s.mean_norm_final.unwrap();
        assert!(
            (got - mean).abs() <= 1e-12 * (1.0 + mean),
            "{}: mean norm {got} vs {mean}",
            e.name
        );

        let esc = e.observe.escape.as_ref().unwrap();
        let escaped = fs
            .iter()
            .filter(|f| {
                diverged(f)
                    || f.w
                        .iter()
                        .zip(&esc.center)
                        .map(|(w, c)| (w - c) * (w - c))
                        .sum::<f64>()
                        .sqrt()
                        >= esc.delta
            })
            .count();
        assert_eq!(
            s.escape_fraction,
            Some(escaped as f64 / e.runs as f64),
            "{}",
            e.name
        );
    }
}
