#!/usr/bin/env python3
"""Import circles between the files of src/: each file is a module, an edge is a `crate::`/`super::`
path or a child module it names (braces expanded, test modules skipped). Prints each circle with
the paths that close it, then "circles: N". Usage: scripts/import-circles.py [src]"""
import os, re, sys
root=sys.argv[1] if len(sys.argv)>1 else 'src'
mods={}
for dp,_,fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3].split(os.sep)
        if rel[-1]=='mod': rel=rel[:-1]
        if rel==['main']: continue
        if rel==['lib']: rel=[]
        mods[tuple(rel)]=p
def strip_tests(t):
    m_=re.search(r'#\[cfg\(test\)\]\s*mod \w+', t); i=m_.start() if m_ else -1
    return t if i<0 else t[:i]
edges={}; why={}
for m,p in mods.items():
    base=os.path.basename(p)
    if base.endswith('_tests.rs') or base.endswith('_sim.rs') or base=='tests.rs' or 'render_tests' in base: continue
    t=strip_tests(open(p).read())
    t=re.sub(r'//[^\n]*','',t)
    t=re.sub(r'pub\([^)]*\)','pub',t)
    out=set()
    def expand(mt):
        pre,items=mt.group(1),mt.group(2)
        return ';'.join(pre+'::'+x.strip().split('::')[0] for x in items.split(',') if x.strip() and x.strip()!='self')
    t=re.sub(r'\b((?:crate|super)(?:::(?:super|[a-z_][a-z0-9_]*))*)::\{([^{}]*)\}',expand,t)
    for mt in re.finditer(r'\b(crate|super)((?:::(?:super|[a-z_][a-z0-9_]*))*)',t):
        head,rest=mt.group(1),mt.group(2)
        parts=[x for x in rest.split('::') if x]
        if head=='crate': path=[]
        else:
            cur=list(m)
            if not p.endswith('mod.rs') and not p.endswith('lib.rs'): pass
            path=cur[:-1]
        while parts and parts[0]=='super':
            path=path[:-1]; parts=parts[1:]
        full=path+parts
        # longest prefix that is a module
        for k in range(len(full),-1,-1):
            if tuple(full[:k]) in mods:
                tgt=tuple(full[:k]); break
        if tgt!=m: out.add(tgt); why.setdefault((m,tgt),set()).add(mt.group(0))
    for mt in re.finditer(r'(?:\buse\s+|\bself::|[^:a-z_])([a-z_][a-z0-9_]*)::',t):
        x=mt.group(1)
        child=tuple(list(m)+[x])
        if child in mods and child!=m: out.add(child); why.setdefault((m,child),set()).add(mt.group(0))
    edges[m]=out
# tarjan
idx={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(comp)
for v in list(edges):
    if v not in idx: sc(v)
for comp in sccs: print(len(comp), sorted('::'.join(x) or 'crate' for x in comp))
print('circles:',len(sccs))
for comp in sccs:
    s=set(comp)
    for a in comp:
        for b in edges[a]:
            if b in s: print('  ', '::'.join(a) or 'crate','->','::'.join(b) or 'crate', sorted(why.get((a,b),[]))[:5])
