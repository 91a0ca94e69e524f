# BrainSAIT's pre-deployment policies (its pipeline document), in the Rego syntax OPA 1.0 accepts
# (`contains` and `if` are keywords). `cargo xtask render` and
# `cargo xtask check` evaluate every file in policies/ over every rendered
# object: `input` is the object, `data.environment` its environment
# (name, namespace, stage, compliance). Each `deny` message stops a render.
package brainsait.production

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext
	msg := "Deployments must define securityContext"
}

deny contains msg if {
	input.kind == "Deployment"
	some container in input.spec.template.spec.containers
	not container.resources.limits
	msg := sprintf("Container %v must define resource limits", [container.name])
}

deny contains msg if {
	input.kind == "Deployment"
	some container in input.spec.template.spec.containers
	endswith(container.image, ":latest")
	msg := sprintf("Container %v cannot use :latest tag", [container.name])
}

deny contains msg if {
	input.kind == "Deployment"
	input.metadata.namespace == "brainsait-production"
	not input.metadata.labels.compliance
	msg := "Production deployments must have compliance label"
}
