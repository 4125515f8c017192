//! The floor: suspend and resume issued directly with kube-rs, without Longshore's job,
//! store or checks — one write per instance at the same concurrency, then one list per
//! interval until every instance is there.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use longshore_shared::kube::crds::{VirtualMachine, VirtualMachineInstance};
use serde_json::json;

use super::Kind;

pub struct Floor<'a> {
    pub client: &'a kube::Client,
    pub namespace: &'a str,
    pub cluster: &'a str,
    pub concurrency: usize,
    pub poll: Duration,
}

impl Floor<'_> {
    fn selector(&self) -> ListParams {
        ListParams::default().labels(&format!("longshore.io/cluster={}", self.cluster))
    }

    pub async fn suspend(&self, kind: Kind) -> anyhow::Result<()> {
        match kind {
            Kind::Container => {
                self.scale_all(0).await?;
                self.until_replicas(0).await
            }
            Kind::Vm => {
                self.subresource_all("pause").await?;
                self.until_vms("Paused").await
            }
        }
    }

    pub async fn resume(&self, kind: Kind) -> anyhow::Result<()> {
        match kind {
            Kind::Container => {
                self.scale_all(1).await?;
                self.until_replicas(1).await
            }
            Kind::Vm => {
                self.subresource_all("unpause").await?;
                self.until_vms("Running").await
            }
        }
    }

    async fn names(&self) -> anyhow::Result<Vec<String>> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), self.namespace);
        let vms: Api<VirtualMachine> = Api::namespaced(self.client.clone(), self.namespace);
        let mut names: Vec<String> = api
            .list(&self.selector())
            .await?
            .items
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect();
        names.extend(
            vms.list(&self.selector())
                .await?
                .items
                .into_iter()
                .filter_map(|v| v.metadata.name),
        );
        Ok(names)
    }

    async fn scale_all(&self, replicas: i32) -> anyhow::Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), self.namespace);
        let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
        let params = PatchParams::default();
        let names = self.names().await?;
        let writes: Vec<_> = names
            .iter()
            .map(|name| {
                let (api, patch, params) = (&api, &patch, &params);
                async move { api.patch(name, params, patch).await.map(drop) }
            })
            .collect();
        let results: Vec<Result<(), kube::Error>> = futures::stream::iter(writes)
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    async fn subresource_all(&self, verb: &str) -> anyhow::Result<()> {
        let names = self.names().await?;
        let calls: Vec<_> = names
            .iter()
            .map(|name| async move {
                let url = format!(
                    "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachineinstances/{name}/{verb}",
                    self.namespace
                );
                let request = http::Request::put(url)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(b"{}".to_vec())?;
                self.client.request_text(request).await?;
                anyhow::Ok(())
            })
            .collect();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(calls)
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    /// Until every Deployment is available at `replicas` (and, at 0, its pods gone).
    async fn until_replicas(&self, replicas: i32) -> anyhow::Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), self.namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace);
        loop {
            let deployments = api.list(&self.selector()).await?.items;
            let there = deployments.iter().all(|d| {
                let status = d.status.as_ref();
                let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
                let current = status.and_then(|s| s.replicas).unwrap_or(0);
                if replicas == 0 {
                    current == 0
                } else {
                    available >= replicas
                }
            });
            let pods_gone = replicas > 0 || pods.list(&self.selector()).await?.items.is_empty();
            if there && pods_gone {
                return Ok(());
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Until every VM shows `printable` and its VMI agrees on being paused.
    async fn until_vms(&self, printable: &str) -> anyhow::Result<()> {
        let vms: Api<VirtualMachine> = Api::namespaced(self.client.clone(), self.namespace);
        let vmis: Api<VirtualMachineInstance> =
            Api::namespaced(self.client.clone(), self.namespace);
        let paused = printable == "Paused";
        loop {
            let all_vms = vms.list(&self.selector()).await?.items;
            let all_vmis = vmis.list(&self.selector()).await?.items;
            let vms_there = all_vms.iter().all(|vm| {
                vm.status
                    .as_ref()
                    .and_then(|s| s.printable_status.as_deref())
                    == Some(printable)
            });
            let vmis_there = all_vmis
                .iter()
                .all(|vmi| vmi.status.as_ref().is_some_and(|s| s.paused() == paused));
            if vms_there && vmis_there {
                return Ok(());
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
