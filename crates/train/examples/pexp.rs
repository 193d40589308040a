// Scratch experiment (not committed).
use microstate_train::pressure::*;
use std::path::PathBuf;
fn main() {
    let files: Vec<PathBuf> = std::fs::read_to_string("/tmp/w2b/all.txt").unwrap().split_whitespace().map(PathBuf::from).collect();
    let groups = group_captures(&files);
    let mut dopts = PressureDataOptions::default();
    if let Ok(b) = std::env::var("BAND") { dopts.dead_band = microstate_core::ml::DeadBand::parse(&b).unwrap(); }
    let ds = build_dataset(&groups, &dopts).unwrap();
    for s in &ds.series {
        let mut c = [0usize;3]; for x in &s.samples { c[x.label as usize]+=1; }
        let n = s.samples.len() as f64;
        println!("{} {} {} n {} shares {:.2}/{:.2}/{:.2}", s.capture.split('/').last().unwrap(), s.symbol, s.market, s.samples.len(), c[0] as f64/n, c[1] as f64/n, c[2] as f64/n);
    }
    let keep: Vec<usize> = std::env::var("KEEP").map(|k| k.split(',').map(|x| x.parse().unwrap()).collect()).unwrap_or((0..ds.n_inputs()).collect());
    let mut ds = ds;
    let n = ds.n_inputs();
    for s in &mut ds.series { for (i, v) in s.x.iter_mut().enumerate() { if !keep.contains(&(i % n)) { *v = 0.0; } } }
    let caps: Vec<String> = groups.iter().map(|g| microstate_train::pressure_eval::capture_name(g)).collect();
    let hidden: Vec<usize> = std::env::var("HIDDEN").map(|h| if h.is_empty() { vec![] } else { h.split(',').map(|x| x.parse().unwrap()).collect() }).unwrap_or(vec![32]);
    let mut tot = [0.0f64; 3]; let mut totn = 0.0;
    for c in &caps {
        let rest = PressureDataset { series: ds.series.iter().filter(|s| &s.capture != c).cloned().collect(), ..ds.clone() };
        let mut o = PressureTrainOptions::default(); o.hidden = hidden.clone(); o.folds = 0;
        if let Ok(e) = std::env::var("SEED") { o.train.seed = e.parse().unwrap(); }
        if let Ok(e) = std::env::var("EPOCHS") { o.train.max_epochs = e.parse().unwrap(); o.train.patience = 100; }
        let Ok(t) = train_pressure(&rest, &o, "x", "x") else { println!("{c}: skip"); continue };
        let clf_model = microstate_core::ml::pressure::PressureModel::from_weights(t.meta.clone(), &t.weights, rest.inputs.clone(), std::path::Path::new("x")).unwrap();
        let mut m = clf_model.clone();
        let bl = microstate_core::ml::prequential::Baselines::new(m.baselines().clone());
        let (mut bm, mut bb, mut bj, mut k) = (0.0, 0.0, 0.0, 0.0);
        let mut out = [[0f32;3]; 7];
        for s in ds.series.iter().filter(|s| &s.capture == c) {
            for (i, smp) in s.samples.iter().enumerate() {
                let p = m.predict_inputs(&s.x[i*n..(i+1)*n]);
                bl.predict(smp.imbalance1 as f32, smp.micro_minus_mid as f32, &mut out);
                bm += microstate_core::ml::prequential::brier(&p, smp.label) as f64;
                bb += microstate_core::ml::prequential::brier(&out[3], smp.label) as f64;
                bj += microstate_core::ml::prequential::brier(&out[1], smp.label) as f64;
                k += 1.0;
            }
        }
        tot[0]+=bm; tot[1]+=bb; tot[2]+=bj; totn+=k;
        println!("{:40} n {:5} best {:2}/{:2} model {:.4} imblog {:.4} maj {:.4}", c.split('/').last().unwrap(), k, t.report.best_epoch, t.report.epochs_run, bm/k, bb/k, bj/k);
    }
    println!("ALL n {} model {:.4} imblog {:.4} maj {:.4}", totn, tot[0]/totn, tot[1]/totn, tot[2]/totn);
}
