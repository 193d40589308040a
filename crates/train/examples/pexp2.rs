// Scratch: online options sweep over LOCO (not committed).
use microstate_train::online::OnlineOptions;
use microstate_train::pressure::*;
use microstate_train::pressure_eval::*;
use std::path::PathBuf;
fn main() {
    let files: Vec<PathBuf> = std::fs::read_to_string("/tmp/w2b/all.txt").unwrap().split_whitespace().map(PathBuf::from).collect();
    let groups = group_captures(&files);
    let dopts = PressureDataOptions::default();
    let ds = build_dataset(&groups, &dopts).unwrap();
    let mut t = PressureTrainOptions::default(); t.folds = 0;
    let mut models = Vec::new();
    for g in &groups {
        let name = capture_name(g);
        let rest = PressureDataset { series: ds.series.iter().filter(|s| s.capture != name).cloned().collect(), ..ds.clone() };
        let tr = train_pressure(&rest, &t, "x", "x").unwrap();
        models.push(microstate_core::ml::pressure::PressureModel::from_weights(tr.meta, &tr.weights, rest.inputs.clone(), std::path::Path::new("x")).unwrap());
    }
    let sweeps: Vec<(f64, f64, bool, usize)> = vec![(3e-5,1e-3,true,16),(1e-4,1e-3,true,32),(1e-4,1e-2,true,16),(2e-4,1e-3,true,32),(1e-4,1e-3,true,64)];
    for (lr, l2, head, batch) in sweeps {
        let mut lo = LiveEvalOptions::default();
        lo.resamples = 200;
        lo.online = Some(OnlineOptions { lr, l2_prior: l2, head_only: head, batch, ..Default::default() });
        let (mut sm, mut so, mut sb, mut sh, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut line = String::new();
        for (g, m) in groups.iter().zip(&models) {
            let r = eval_live(m, std::slice::from_ref(g), &lo, "x").unwrap();
            let k = r.model.n as f64;
            sm += r.model.brier * k; so += r.model_online.brier * k; sh += r.shown.brier * k;
            sb += r.baselines.imbalance_logistic_online.brier.min(r.baselines.imbalance_logistic.brier) * k; n += k;
            line += &format!(" {:+.4}", r.model_online.brier - r.model.brier);
        }
        println!("lr {lr} l2 {l2} head {head} batch {batch}: model {:.4} online {:.4} shown {:.4} imblog-best {:.4} | online-prior per capture{line}", sm/n, so/n, sh/n, sb/n);
    }
}
