#[tokio::main]
async fn main() {
    let h = longshore_memkube::MemKube::builder()
        .listen("127.0.0.1:18080".parse().unwrap())
        .with_standard_crds()
        .start()
        .await
        .unwrap();
    h.write_kubeconfig(std::path::Path::new("/tmp/mk.kubeconfig"))
        .unwrap();
    tokio::signal::ctrl_c().await.unwrap();
}
